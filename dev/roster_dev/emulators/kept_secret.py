"""A destination's secret kept in memory, as Roster keeps it in Secrets Manager: for adapters that tests and
benchmarks build outside the local stack, whose platform renews credentials as it goes (`KeptSecret`)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class KeptInMemory:
    saved: list[str] = field(default_factory=list)  # every secret saved anew, oldest first

    def load(self) -> str | None:
        return self.saved[-1] if self.saved else None

    def save(self, secret: str) -> None:
        self.saved.append(secret)
