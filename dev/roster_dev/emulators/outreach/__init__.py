"""An Outreach org (API v2, JSON:API) for the sequencer destination's tests, the demo and the local stack."""

from roster_dev.emulators.outreach.server import OutreachEmulator

__all__ = ["OutreachEmulator"]
