"""Which channels receive what. Each channel may take only some watches (`watches`), only matches
of at least some severity (`min_severity`, compared with the match's — the watch's, or the status
rule's for plans and promises), and source-health alerts or not (`operational`). By default every
channel gets everything."""

from __future__ import annotations

from dataclasses import dataclass

SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


@dataclass(frozen=True)
class Route:
    channel: str
    watches: frozenset[str] | None = None
    min_severity: str | None = None
    operational: bool = True

    def takes(self, watch: str, severity: str) -> bool:
        if self.watches is not None and watch not in self.watches:
            return False
        return self.min_severity is None or SEVERITY_RANK.get(severity, 0) >= SEVERITY_RANK[self.min_severity]

    def describe(self) -> str:
        parts = [f"watches {', '.join(sorted(self.watches))}" if self.watches is not None else "every watch",
                 f"severity >= {self.min_severity}" if self.min_severity else "any severity",
                 "source-health alerts" if self.operational else "no source-health alerts"]
        return f"{self.channel}: {'; '.join(parts)}"


@dataclass(frozen=True)
class Routes:
    routes: tuple[Route, ...] = ()

    @classmethod
    def of(cls, config) -> "Routes":
        return cls(tuple(Route(name, frozenset(spec.watches) if spec.watches is not None else None,
                               spec.min_severity, spec.operational) for name, spec in config.named_channels()))

    def alert(self, watch: str, severity: str) -> list[str]:
        """The channels a match of this watch and severity goes to."""
        return [r.channel for r in self.routes if r.takes(watch, severity)]

    def operational(self) -> list[str]:
        return [r.channel for r in self.routes if r.operational]

    def __bool__(self) -> bool:
        return bool(self.routes)
