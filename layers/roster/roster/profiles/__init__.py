"""Profiles: the model, field values with provenance, survivorship."""
