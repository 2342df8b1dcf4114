"""The API versions the emulated org serves: the one list the server, describe and limits read.

Salesforce serves every version from 31.0 (the oldest left after the Summer '25 retirement of 21.0 to 30.0) to the
current release, three releases a year (Spring, Summer, Winter, the Winter release named for the following year).
"""

from __future__ import annotations

OLDEST = 31
#: Winter '27, the current release in late 2026.
NEWEST = 68
API_VERSIONS: tuple[str, ...] = tuple(f"{major}.0" for major in range(OLDEST, NEWEST + 1))
LATEST = API_VERSIONS[-1]


def release(version: str) -> str:
    """The release that brought a version, as `/services/data/` labels it: 31.0 is Summer '14, 68.0 Winter '27."""
    steps = int(float(version)) - OLDEST
    season = ("Summer", "Winter", "Spring")[steps % 3]
    return f"{season} '{14 + (steps + 2) // 3:02d}"


def major(version: str) -> int:
    """The major number of a version string (`"59.0"` -> 59), for behaviour that changed with a version."""
    return int(float(version))
