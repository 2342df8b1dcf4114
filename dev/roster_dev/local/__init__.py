"""Local stack: moto server, emulators and a runner that delivers events to the real handlers."""
