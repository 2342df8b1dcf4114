"""Store: the only package that talks to DynamoDB."""
