"""The HubSpot connector: connection, import of contacts, companies and deals, on the connector core."""
