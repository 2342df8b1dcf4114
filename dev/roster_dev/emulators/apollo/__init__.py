"""An Apollo team (REST API v1) for the sequencer destination's tests, the demo and the local stack."""

from roster_dev.emulators.apollo.server import ApolloEmulator

__all__ = ["ApolloEmulator"]
