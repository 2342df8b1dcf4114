"""Signals: job changes, new hires, funding and hiring spikes found by a data provider or in Roster's own
history, written permanently to each matching record so segments can filter on them.

A signal is an enrichment whose one provider is a signal provider (`roster.signals.provider`), so it
runs, is charged, capped, resumed, scheduled and tested by the enrichment machinery (`roster.enrich`).
"""
