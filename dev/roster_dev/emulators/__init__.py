"""Stand-ins for the external systems Roster talks to, speaking their wire protocols over real HTTP."""
