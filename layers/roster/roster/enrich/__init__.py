"""Enrichment: providers that add fields to profiles (runs, budgets and queues build on them)."""
