"""The HTTP API: routes, authentication and request/response schemas."""
