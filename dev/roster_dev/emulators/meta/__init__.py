"""Meta's Marketing API for Custom Audiences over HTTPS: `with MetaEmulator() as meta: meta.create_audience()`."""

from roster_dev.emulators.meta.server import MAX_ROWS, MetaEmulator

__all__ = ["MAX_ROWS", "MetaEmulator"]
