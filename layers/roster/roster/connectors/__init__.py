"""Connectors: one package per external system, on one shared core.

`core` owns what every CRM sync shares and knows no system: the run worker and loop (lease, heartbeat,
checkpoint and mark committed together, continuation near the deadline, stuck runs, API-call accounting),
the field-mapping vocabulary with export rules and name-similarity auto-map, and the export planner (never /
always / fill blank, segment fields, create-new). An adapter (`salesforce`, next `hubspot`) brings what
differs per system: its connection and client, its objects and their describe, incremental cursors, batch
writes and rate budgets, plugged into the core's types. A HubSpot field rule (say, which properties are
read-only) goes in `connectors/hubspot/`; a new export rule for every CRM goes in `core/mapping.py` and
`core/planner.py`. Adapters import the core, never each other; an adapter's import and export share its
client and describe modules, never each other's internals.
"""
