"""Sources: one module per connector (CSV, Salesforce, ...)."""
