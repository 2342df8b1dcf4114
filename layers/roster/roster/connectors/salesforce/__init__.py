"""The Salesforce connector: connection, describe and mapping, import over Bulk query, export over Bulk ingest."""
