"""What enrichment finds, and when an observation is worth advice.  Pure."""

from __future__ import annotations

from dataclasses import dataclass

from diagnosis_operator.models.findings import (
    Evidence,
    Recommendation,
)


@dataclass(frozen=True, slots=True)
class EnrichThresholds:
    """When an observation is worth a recommendation."""

    min_scan_rows: int = 1000  # a full scan of fewer rows is not worth an index
    hot_key_share: float = 0.5  # one key (or command) in at least this share of slow commands
    hot_key_min_entries: int = 3
    big_value_elements: int = 1000  # a hash/set/list/zset this long is "big"
    big_value_bytes: int = 1 << 20
    slow_command_seconds: float = 0.01  # a whole-value read this slow is a problem by itself
    near_limit: float = 0.9  # clients / maxclients, used_memory / maxmemory
    latency_seconds: float = 0.1  # LATENCY LATEST spikes worth quoting
    window_margin_seconds: float = 1.0  # slow-log times are whole seconds


DEFAULT_THRESHOLDS = EnrichThresholds()


@dataclass(frozen=True, slots=True)
class SlowStatement:
    """A slow statement found in the diagnosis' evidence, and whether it may be explained."""

    component: str
    statement: str  # as found in the evidence
    because: str  # the evidence summary it came from
    refused: str | None = None  # why it is not explained; None when it may be
    # What EXPLAIN is asked for: the statement itself, or for a single-table UPDATE or
    # DELETE the SELECT of the rows it touches (same table, same WHERE).
    explain: str = ""
    rewritten: bool = False  # True when ``explain`` is the SELECT of an UPDATE's / DELETE's rows

    @property
    def explainable(self) -> bool:
        return self.refused is None


@dataclass(frozen=True, slots=True)
class Enrichment:
    evidence: tuple[Evidence, ...] = ()
    recommendations: tuple[Recommendation, ...] = ()
    superseded: tuple[Recommendation, ...] = ()  # earlier advice the observations answer
    notes: tuple[str, ...] = ()  # become warnings of the result
