"""Warehouse imports (DuckDB, Postgres, Snowflake, BigQuery) through SQLAlchemy on the connector core."""
