"""Writing profiles back to the CRM."""
