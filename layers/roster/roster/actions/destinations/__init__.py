"""Destinations: where actions send records. Each kind has an adapter (see `base.py`)."""
