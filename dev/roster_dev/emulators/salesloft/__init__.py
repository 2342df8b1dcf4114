"""A Salesloft team (API v2) for the sequencer destination's tests, the demo and the local stack."""

from roster_dev.emulators.salesloft.server import SalesloftEmulator

__all__ = ["SalesloftEmulator"]
