"""Store: the only package that talks to DynamoDB (the API only maps its errors to HTTP answers).

`models` has the PynamoDB model of each table and points them at the deployment's tables; `jobs` lists
every kind of item on the shared jobs table and builds all of its keys; the other modules are one store
per concern (profiles, workspaces, imports, segments, enrichments, the Salesforce import and export).
"""
