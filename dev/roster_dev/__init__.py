"""Roster's development tools: the local stack, the emulators, the demo, the CLI and its HTTP client.

Installed into `.venv` by `make`; never part of the Lambda layer (`layers/roster/`), which holds
only what the functions run."""
