"""Servers with a fixed ceiling of work per instance: at the ceiling, busy is harm.  Pure data.

Most load is not harm: a busier server answers as before.  A server that runs
its work on one thread is different: Redis executes every command on its main
thread, so once that thread uses a whole core, each further command waits in
line behind the others and every caller of that instance slows, whatever the
commands are (a hot key on one cluster shard, a burst of O(N) calls).  Its
CPU at the ceiling is harm of its own, like refused connections.

A ``Ceiling`` says, for one catalogue kind, which CPU-seconds counters of its
exporter sum to the busy time of that thread (``counters``, the first group
present on an instance is used: the main thread's own counters when the
server publishes them, its process's otherwise), how many cores the thread
can use (``cores``) and the share of them from which the instance is
saturated (``share``).  Each entry cites the documentation it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass

from diagnosis_operator.catalog.mode_types import REDIS

REDIS_SINGLE_THREAD = (
    "https://redis.io/docs/latest/operate/oss_and_stack/management/optimization/latency/"
    "#single-threaded-nature-of-redis"
)
REDIS_CPU_FAQ = (
    "https://redis.io/docs/latest/develop/get-started/faq/#how-can-redis-use-multiple-cpus-or-cores"
)
REDIS_INFO_CPU = "https://redis.io/docs/latest/commands/info/"  # used_cpu_*, *_main_thread
REDIS_EXPORTER_CPU = "https://github.com/oliver006/redis_exporter"  # redis_cpu_*_seconds_total
REDIS_HOT_KEY = "https://redis.io/docs/latest/operate/rs/databases/durability-ha/clustering/"


@dataclass(frozen=True, slots=True)
class Ceiling:
    """How much work one instance of ``kind`` can do before its callers wait."""

    kind: str
    counters: tuple[tuple[str, ...], ...]  # groups of regexes, the first group present wins
    cores: float
    share: float
    sources: tuple[str, ...]


CEILINGS: tuple[Ceiling, ...] = (
    Ceiling(
        kind=REDIS,
        counters=(
            # Redis >= 6: the main thread's own CPU (INFO used_cpu_*_main_thread)
            (r"^redis_cpu_(user|sys)_main_thread_seconds_total$",),
            # the server process, background threads included (never its forked children)
            (r"^redis_cpu_(user|sys)_seconds_total$",),
        ),
        cores=1.0,
        share=0.85,
        sources=(
            REDIS_SINGLE_THREAD,
            REDIS_CPU_FAQ,
            REDIS_INFO_CPU,
            REDIS_EXPORTER_CPU,
            REDIS_HOT_KEY,
        ),
    ),
)


def ceilings_of(kinds: tuple[str, ...]) -> tuple[Ceiling, ...]:
    """Pure: the ceilings of ``kinds``, in the order of the kinds."""
    return tuple(c for kind in kinds for c in CEILINGS if c.kind == kind)
