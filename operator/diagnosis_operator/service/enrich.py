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
import urllib.parse
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from diagnosis_operator.adapters.mysql import MySQLConnectionSettings, PyMySQLAdmin
from diagnosis_operator.adapters.redis import RedisAdapter, describe_url
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
from diagnosis_operator.ports import MySQLAdmin, RedisProbe

REDIS_SCHEMES = ("redis", "rediss", "unix")


class EnrichmentSettings(BaseModel):
    """Where to ask directly, and how much.  Every source is optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mysql: MySQLConnectionSettings | None = None
    # Explain only the statements of this component's evidence (None: any component's).
    mysql_component: str | None = None
    redis_url: SecretStr | None = None  # may carry a password
    redis_component: str = "redis"
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 10.0
    max_statements: Annotated[int, Field(ge=1, le=20)] = 5
    slowlog_limit: Annotated[int, Field(ge=1, le=1024)] = 128
    max_keys_sized: Annotated[int, Field(ge=0, le=50)] = 10

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            scheme = urllib.parse.urlsplit(value.get_secret_value()).scheme
            if scheme not in REDIS_SCHEMES:
                raise ValueError(
                    f"redis URL scheme must be one of {', '.join(REDIS_SCHEMES)}, not {scheme!r}"
                )
        return value

    @property
    def configured(self) -> bool:
        return self.mysql is not None or self.redis_url is not None


def mysql_settings_from_url(*, url: str, password: str | None = None) -> MySQLConnectionSettings:
    """``MySQLConnectionSettings`` from ``mysql://user[:password]@host[:port][/database]``.  Pure.

    ``password`` (e.g. from an environment variable) wins over one in the URL, so
    that no password needs to appear on a command line.  Errors say what is wrong
    and never echo the password.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("mysql", "mariadb"):
        raise ValueError(f"MySQL URL must start with mysql:// or mariadb://, not {parts.scheme!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("MySQL URL: the port is not a number in 1..65535") from None
    if not parts.hostname or not parts.username:
        raise ValueError("MySQL URL must name a user and a host: mysql://user@host:3306/db")
    secret = password if password is not None else parts.password
    if secret is None:
        raise ValueError("MySQL URL: no password (give it in the URL or separately)")
    fields: dict[str, Any] = {
        "host": parts.hostname,
        "user": urllib.parse.unquote(parts.username),
        "password": urllib.parse.unquote(secret) if password is None else secret,
    }
    if port is not None:
        fields["port"] = port
    database = urllib.parse.unquote(parts.path.lstrip("/"))
    if database:
        fields["database"] = database
    try:
        return MySQLConnectionSettings(**fields)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise ValueError(f"MySQL URL: {problems}") from None


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
    settings: EnrichmentSettings,
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


def enrich_diagnosis(
    *,
    result: DiagnosisResult,
    settings: EnrichmentSettings,
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
    statements = (
        core.slow_statements(
            result=result, component=settings.mysql_component, limit=settings.max_statements
        )
        if mysql is not None
        else ()
    )
    explainable = [s for s in statements if s.explainable]
    gathered = _Gathered(refused=[s for s in statements if not s.explainable])
    if not explainable and redis is None:
        if close_probes and mysql is not None:
            _close(mysql)
        if not gathered.refused:
            return result
        return core.enrich(result=result, refused=gathered.refused, thresholds=thresholds)

    deadline = clock() + settings.timeout_seconds
    tasks: list[tuple[str, Callable[[], None]]] = []
    if mysql is not None:

        def explain_task() -> None:
            try:
                _explain_all(
                    mysql=mysql,
                    statements=explainable,
                    gathered=gathered,
                    deadline=deadline,
                    clock=clock,
                )
            finally:
                if close_probes:
                    _close(mysql)

        if explainable:
            tasks.append(("EXPLAIN of the slow statements", explain_task))
        elif close_probes:
            _close(mysql)
    if redis is not None:

        def redis_task() -> None:
            try:
                _observe_redis(
                    redis=redis,
                    settings=settings,
                    result=result,
                    gathered=gathered,
                    deadline=deadline,
                    clock=clock,
                )
            finally:
                if close_probes:
                    _close(redis)

        tasks.append((f"redis {redis.describe()}", redis_task))

    pool = ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="enrich")
    futures: dict[Future[None], str] = {pool.submit(task): what for what, task in tasks}
    try:
        done, pending = wait(futures, timeout=max(0.0, deadline - clock()))
        for future in done:
            error = future.exception()
            if error is not None:
                gathered.note(f"{futures[future]} failed: {error}")
        for future in pending:
            gathered.note(
                f"{futures[future]} did not finish within {settings.timeout_seconds:g} s; "
                "kept what it answered before"
            )
    finally:
        # Never wait for a straggler: its socket timeout ends it, bounded by the budget.
        pool.shutdown(wait=False, cancel_futures=True)

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


def make_enricher(
    *,
    settings: EnrichmentSettings,
    thresholds: core.EnrichThresholds = core.DEFAULT_THRESHOLDS,
) -> Callable[[DiagnosisResult], DiagnosisResult]:
    """A ``result -> result`` step asking the configured servers (identity if none is).

    Connections are opened per call and closed after it, with socket timeouts no
    longer than the time budget.
    """

    def run(result: DiagnosisResult) -> DiagnosisResult:
        if not settings.configured:
            return result
        budget = settings.timeout_seconds
        mysql: PyMySQLAdmin | None = None
        redis: RedisAdapter | None = None
        if settings.mysql is not None:
            bounded = settings.mysql.model_copy(
                update={
                    "connect_timeout": min(settings.mysql.connect_timeout, budget),
                    "read_timeout": min(settings.mysql.read_timeout, budget),
                }
            )
            mysql = PyMySQLAdmin(settings=bounded, name=settings.mysql_component or "mysql")
        if settings.redis_url is not None:
            redis = RedisAdapter(
                url=settings.redis_url.get_secret_value(), timeout=min(5.0, budget)
            )
        return enrich_diagnosis(
            result=result,
            settings=settings,
            mysql=mysql,
            redis=redis,
            thresholds=thresholds,
            close_probes=True,
        )

    return run


def describe(settings: EnrichmentSettings) -> str:
    """What will be asked, for logs: servers without credentials."""
    parts = []
    if settings.mysql is not None:
        parts.append(f"mysql {settings.mysql.describe()}")
    if settings.redis_url is not None:
        parts.append(f"redis {describe_url(settings.redis_url.get_secret_value())}")
    return ", ".join(parts) or "nothing"
