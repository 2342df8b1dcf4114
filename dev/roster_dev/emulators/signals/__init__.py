"""A signals data vendor: employment histories, hires, funding rounds and job postings over HTTP."""

from roster_dev.emulators.signals.data import SignalData
from roster_dev.emulators.signals.server import SignalsEmulator

__all__ = ["SignalData", "SignalsEmulator"]
