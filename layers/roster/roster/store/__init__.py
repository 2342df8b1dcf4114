"""Store: the only package that talks to DynamoDB.

`models` has the PynamoDB model of each table and points them at the deployment's tables; `jobs` lists
every kind of item on the shared jobs table and builds all of its keys; the other modules are one store
per concern (profiles, workspaces, imports, segments, enrichments, the Salesforce import and export).
"""

from pynamodb.exceptions import PynamoDBException as StorageError

__all__ = ["StorageError"]  # what any store raises when DynamoDB fails; the API maps it to 429 or 500
