"""Sharpen a diagnosis by asking MySQL and Redis directly (optional, bounded, never fatal).

After the engine has diagnosed the window from metrics and logs, this step
``EXPLAIN``s the slow statements its evidence quotes and reads the Redis slow
log, INFO and LATENCY LATEST; ``core.enrich`` turns the answers into evidence and
recommendations.  Nothing configured means nothing asked: the result comes back
unchanged.

Safety: only statements ``models.sqltext.validated_select`` accepts (one plain
SELECT) are explained, checked here and again in the MySQL adapter; ``EXPLAIN``
plans a statement without running it.  Everything asked of Redis is read-only.
The whole step has a time budget (``timeout_seconds``); a source that fails or
does not answer in time becomes a warning of the result, and what it did answer
before is kept.

The MySQL account needs SELECT on the tables the slow statements read (EXPLAIN
requires it) and a default database when the statements name tables without
their schema.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from diagnosis_operator.core.diagnosis import enrich as core
from diagnosis_operator.models.findings import DiagnosisResult
from diagnosis_operator.models.observations import (
    ExplainObservation,
    KeySize,
    LatencyEvent,
    RedisInfo,
    RedisObservation,
    SlowlogEntry,
)
from diagnosis_operator.models.sqltext import NotASelect, validated_select
from diagnosis_operator.ports import EnrichmentOptions, MySQLAdmin, RedisProbe


@dataclass
class _Gathered:
    """What the workers found; read when they finish or when the budget is spent."""

    explains: list[ExplainObservation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    refused: list[core.SlowStatement] = field(default_factory=list)
    redis: list[RedisObservation] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, text: str) -> None:
        with self.lock:
            self.notes.append(f"enrich: {text}")


def _close(probe: object) -> None:
    close = getattr(probe, "close", None)
    if callable(close):
        # Best effort: the answers are already in.
        with contextlib.suppress(Exception):
            close()


def _explain_all(
    *,
    mysql: MySQLAdmin,
    statements: Sequence[core.SlowStatement],
    gathered: _Gathered,
    deadline: float,
    clock: Callable[[], float],
) -> None:
    for statement in statements:
        if clock() >= deadline:
            gathered.note(f"EXPLAIN of {len(statements)} statement(s) stopped at the time budget")
            return
        try:
            # Checked again here (and by the adapter): only one plain SELECT is explained.
            validated = validated_select(statement.explain)
            rows = mysql.explain(statement=validated)
        except NotASelect as error:
            with gathered.lock:
                gathered.refused.append(
                    core.SlowStatement(
                        component=statement.component,
                        statement=statement.statement,
                        because=statement.because,
                        refused=str(error),
                    )
                )
            continue
        except Exception as error:  # a warning of the result, never a failed diagnosis
            gathered.note(f"EXPLAIN for {statement.component} failed: {error}")
            continue
        with gathered.lock:
            gathered.explains.append(
                ExplainObservation(
                    component=statement.component,
                    statement=validated,
                    rows=tuple(rows),
                    because=statement.because,
                    original=statement.statement if statement.rewritten else "",
                )
            )


def _observe_redis(
    *,
    redis: RedisProbe,
    settings: EnrichmentOptions,
    result: DiagnosisResult,
    gathered: _Gathered,
    deadline: float,
    clock: Callable[[], float],
) -> None:
    server = redis.describe()
    info: RedisInfo | None = None
    slowlog: tuple[SlowlogEntry, ...] = ()
    threshold: float | None = None
    latency: tuple[LatencyEvent, ...] = ()
    sizes: tuple[KeySize, ...] = ()
    failures = 0

    def attempt(what: str, call: Callable[[], Any]) -> Any:
        nonlocal failures
        if clock() >= deadline:
            gathered.note(f"redis {server}: {what} skipped, time budget spent")
            return None
        try:
            return call()
        except Exception as error:  # a warning of the result, never a failed diagnosis
            failures += 1
            gathered.note(f"redis {server}: {error}")
            return None

    info = attempt("INFO", redis.info)
    slowlog = attempt("SLOWLOG GET", lambda: redis.slowlog(limit=settings.slowlog_limit)) or ()
    if slowlog:
        threshold = attempt("CONFIG GET slowlog-log-slower-than", redis.slowlog_threshold)
    latency = attempt("LATENCY LATEST", redis.latency_latest) or ()
    keys = core.keys_worth_sizing(
        entries=slowlog, window=result.window, limit=settings.max_keys_sized
    )
    if keys:
        sizes = attempt("key sizes", lambda: redis.key_sizes(keys=keys)) or ()
    if failures and info is None and not slowlog:
        return  # nothing observed; the notes say why
    with gathered.lock:
        gathered.redis.append(
            RedisObservation(
                component=settings.redis_component,
                server=server,
                info=info,
                slowlog=tuple(slowlog),
                slowlog_limit=settings.slowlog_limit,
                slowlog_threshold=threshold,
                latency=tuple(latency),
                key_sizes=tuple(sizes),
            )
        )


_Task = tuple[str, Callable[[], None]]


@dataclass(frozen=True)
class _Asking:
    """One run of the step: what it asks, within which budget, and whether it closes probes."""

    result: DiagnosisResult
    settings: EnrichmentOptions
    gathered: _Gathered
    deadline: float
    clock: Callable[[], float]
    close_probes: bool


def _explain_task(
    asking: _Asking, *, mysql: MySQLAdmin, statements: Sequence[core.SlowStatement]
) -> _Task:
    def task() -> None:
        try:
            _explain_all(
                mysql=mysql,
                statements=statements,
                gathered=asking.gathered,
                deadline=asking.deadline,
                clock=asking.clock,
            )
        finally:
            if asking.close_probes:
                _close(mysql)

    return ("EXPLAIN of the slow statements", task)


def _redis_task(asking: _Asking, redis: RedisProbe) -> _Task:
    def task() -> None:
        try:
            _observe_redis(
                redis=redis,
                settings=asking.settings,
                result=asking.result,
                gathered=asking.gathered,
                deadline=asking.deadline,
                clock=asking.clock,
            )
        finally:
            if asking.close_probes:
                _close(redis)

    return (f"redis {redis.describe()}", task)


def _run(tasks: Sequence[_Task], asking: _Asking) -> None:
    """Run the tasks in parallel until done or the budget is spent; stragglers become notes."""
    gathered = asking.gathered
    pool = ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="enrich")
    futures: dict[Future[None], str] = {pool.submit(task): what for what, task in tasks}
    try:
        done, pending = wait(futures, timeout=max(0.0, asking.deadline - asking.clock()))
        for future in done:
            error = future.exception()
            if error is not None:
                gathered.note(f"{futures[future]} failed: {error}")
        for future in pending:
            gathered.note(
                f"{futures[future]} did not finish within {asking.settings.timeout_seconds:g} s; "
                "kept what it answered before"
            )
    finally:
        # Never wait for a straggler: its socket timeout ends it, bounded by the budget.
        pool.shutdown(wait=False, cancel_futures=True)


def _slow_statements(
    *, result: DiagnosisResult, settings: EnrichmentOptions, mysql: MySQLAdmin | None
) -> tuple[core.SlowStatement, ...]:
    """The slow statements to explain (none when MySQL is not asked)."""
    if mysql is None:
        return ()
    return core.slow_statements(
        result=result, component=settings.mysql_component, limit=settings.max_statements
    )


def enrich_diagnosis(
    *,
    result: DiagnosisResult,
    settings: EnrichmentOptions,
    mysql: MySQLAdmin | None = None,
    redis: RedisProbe | None = None,
    thresholds: core.EnrichThresholds = core.DEFAULT_THRESHOLDS,
    close_probes: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> DiagnosisResult:
    """The result with what MySQL and Redis answered directly, within ``timeout_seconds``.

    ``mysql`` / ``redis`` are the probes to ask (None: not asked).  With
    ``close_probes`` each probe is closed by the worker that used it, once done,
    so that a probe still waiting on its socket never delays the answer.
    """
    statements = _slow_statements(result=result, settings=settings, mysql=mysql)
    explainable = [s for s in statements if s.explainable]
    gathered = _Gathered(refused=[s for s in statements if not s.explainable])
    if not explainable and redis is None:
        if close_probes and mysql is not None:
            _close(mysql)
        if not gathered.refused:
            return result
        return core.enrich(result=result, refused=gathered.refused, thresholds=thresholds)

    asking = _Asking(
        result=result,
        settings=settings,
        gathered=gathered,
        deadline=clock() + settings.timeout_seconds,
        clock=clock,
        close_probes=close_probes,
    )
    tasks: list[_Task] = []
    if mysql is not None:
        if explainable:
            tasks.append(_explain_task(asking, mysql=mysql, statements=explainable))
        elif close_probes:
            _close(mysql)
    if redis is not None:
        tasks.append(_redis_task(asking, redis))
    _run(tasks, asking)

    with gathered.lock:
        explains = tuple(gathered.explains)
        observations = tuple(gathered.redis)
        refused = tuple(gathered.refused)
        notes = tuple(gathered.notes)
    return core.enrich(
        result=result,
        explains=explains,
        redis=observations,
        refused=refused,
        notes=notes,
        thresholds=thresholds,
    )
