"""The Salesforce connector: connection and credentials, field mapping, and the import sync engine."""
