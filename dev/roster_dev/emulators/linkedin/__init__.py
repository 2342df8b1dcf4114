"""LinkedIn's DMP segment API over HTTPS: `with LinkedInEmulator() as linkedin: linkedin.create_segment()`."""

from roster_dev.emulators.linkedin.server import MAX_ELEMENTS, LinkedInEmulator

__all__ = ["MAX_ELEMENTS", "LinkedInEmulator"]
