"""Roster: one persistent profile per person and per company, built from every source."""
