"""Actions: when a record enters or leaves a segment, send it on to a destination (a signed
webhook, an ad audience, a sequencer)."""
