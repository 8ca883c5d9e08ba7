"""The Protocols the pipeline talks through.  Every one has a fake in tests/fakes.

The offline bundle source and the live Prometheus/Loki adapters implement the
same signal Protocols with the same semantics, so that a bundle replayed into
Prometheus and Loki gives the same diagnosis as the bundle read in-process:

* ``SeriesSource.range_series`` follows Prometheus range-query semantics: values
  at ``window.start + k*step`` (k = 0.. while <= end), each the newest raw sample
  at or before that instant and no older than 5 minutes (lookback); steps with
  no such sample are absent.  Raw values are returned (no ``rate``): the core
  derives rates itself.  ``Series.type`` is UNKNOWN (Prometheus does not keep
  the types of backfilled data), so the core infers counters from names and
  monotonicity.
* ``LogSource`` follows Loki semantics.  ``line_filter`` is a regular expression
  in the common subset of RE2 and Python ``re`` (``(?i)`` allowed); it is applied
  like LogQL ``|~``.  ``count_lines`` is
  ``sum by (<by>) (count_over_time({<selector>} |~ <filter> [<step>]))`` evaluated
  at the window's steps over the half-open range ``(t - step, t]``; zero steps
  are absent.  ``count_extracted`` adds ``| regexp <pattern>`` (named groups
  become labels; a line the pattern does not match gets empty values) and keeps
  ``topk(top, ...)`` per step.  ``sample_lines`` returns at most ``limit`` lines,
  oldest first (Loki ``direction=forward``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from diagnosis_operator.models.actions import (
    ClientRule,
    ExplainRow,
    InnodbTransaction,
    KillCommand,
    ProcessRow,
    ServerInfo,
)
from diagnosis_operator.models.cluster import (
    EventNote,
    EvictionResult,
    PodInfo,
    QuarantineRecord,
    StoredDocument,
)
from diagnosis_operator.models.lease import LeaseRecord
from diagnosis_operator.models.observations import KeySize, LatencyEvent, RedisInfo, SlowlogEntry
from diagnosis_operator.models.signals import LogCount, LogStream, MetricType, Series, Window


class SignalError(RuntimeError):
    """A signal query failed.  The message says what was asked and what came back."""

    def __init__(
        self,
        *,
        backend: str,
        query: str,
        window: Window | None,
        status: int | None = None,
        body: str = "",
        reason: str = "",
    ) -> None:
        self.backend = backend
        self.query = query
        self.window = window
        self.status = status
        self.body = body
        self.reason = reason
        parts = [f"{backend} query failed: {query}"]
        if window is not None:
            parts.append(f"window {window}")
        if status is not None:
            parts.append(f"HTTP {status}")
        if reason:
            parts.append(reason)
        if body:
            parts.append(f"body: {body[:500]}")
        super().__init__("; ".join(parts))


class PartialAnswer(SignalError):
    """A query answered, but the source said the answer may be incomplete.

    A Thanos querier that could not reach a store (``partial_response``), a
    Mimir or Prometheus answer with ``warnings``: the data in ``answer`` is
    what came back and is kept, but a diagnosis resting on it is not complete
    (``core.diagnosis.coverage`` counts it as partial, never as a calm).
    ``warnings`` are the source's own words.
    """

    def __init__(
        self,
        *,
        backend: str,
        query: str,
        window: Window | None,
        answer: Any,
        warnings: Sequence[str],
    ) -> None:
        self.answer = answer
        self.warnings = tuple(warnings)
        super().__init__(
            backend=backend,
            query=query,
            window=window,
            reason="partial answer: " + "; ".join(w[:300] for w in self.warnings[:3]),
        )


class SeriesSource(Protocol):
    """Raw metric series by equality selector (Prometheus, or a bundle offline)."""

    def range_series(
        self, *, selector: Mapping[str, str], window: Window, step: float
    ) -> list[Series]: ...

    def describe_selector(self, *, selector: Mapping[str, str]) -> str:
        """The query quoted in evidence for this selector (e.g. PromQL ``{job="api"}``)."""
        ...


class PromQLSource(Protocol):
    """PromQL: a policy's signals (``signalOverrides``), catalog signals and verification.

    Live Prometheus answers any PromQL; an incident bundle (``BundleSource``)
    answers the subset of ``models.promql_subset`` and raises ``SignalError``
    for the rest.
    """

    def query_range(self, *, promql: str, window: Window, step: float) -> list[Series]: ...

    def query_instant(self, *, promql: str, at: float) -> list[Series]: ...


@runtime_checkable
class AggregatingSeriesSource(Protocol):
    """A series source that also evaluates PromQL and knows the declared metric types.

    The collector then asks it for the series the engine reads, aggregated by
    instance where a component has more series than its budget
    (``core.series_plan``): Prometheus live, the bundle's PromQL subset offline.
    """

    def query_range(self, *, promql: str, window: Window, step: float) -> list[Series]: ...

    def query_instant(self, *, promql: str, at: float) -> list[Series]: ...

    def series_types(self, names: Sequence[str]) -> dict[str, MetricType]:
        """The declared type of each series name (UNKNOWN where none was declared)."""
        ...


class LogSource(Protocol):
    """Log lines and log-derived counts (Loki, or a bundle offline)."""

    def sample_lines(
        self,
        *,
        selector: Mapping[str, str],
        window: Window,
        line_filter: str | None,
        limit: int,
    ) -> list[LogStream]: ...

    def count_lines(
        self,
        *,
        selector: Mapping[str, str],
        window: Window,
        step: float,
        line_filter: str | None,
        by: Sequence[str],
    ) -> list[LogCount]: ...

    def count_extracted(
        self,
        *,
        selector: Mapping[str, str],
        window: Window,
        step: float,
        line_filter: str | None,
        pattern: str,
        by: Sequence[str],
        top: int,
    ) -> list[LogCount]: ...

    def describe(
        self,
        *,
        selector: Mapping[str, str],
        line_filter: str | None,
        pattern: str | None = None,
        by: Sequence[str] = (),
        step: float | None = None,
        top: int | None = None,
    ) -> str:
        """The query quoted in evidence (LogQL for Loki; the same LogQL offline).

        Given the arguments of a ``count_extracted`` call (with its ``top``), the
        text is exactly the query that call runs.
        """
        ...


# --------------------------------------------------------------------- remediation ports
# (appended by the remediation work: MySQL kills, client rate limits)


class MySQLAdmin(Protocol):
    """One MySQL/MariaDB server as the kill-queries action sees it.

    ``processlist`` / ``transactions`` read ``information_schema.PROCESSLIST`` and
    ``INNODB_TRX``; ``kill`` sends ``KILL [QUERY|CONNECTION] [ID] <int>`` built from
    the integers of a ``KillCommand`` only, after re-reading the thread and finding
    it unchanged (``expected``), and says what happened: ``"killed"``, ``"gone"``
    (the thread ended first) or ``"changed"`` (the id now runs something else).
    ``explain`` runs ``EXPLAIN`` on a statement validated as a single SELECT and
    raises ``ValueError`` for anything else.
    """

    def server_info(self) -> ServerInfo: ...

    def connection_id(self) -> int: ...

    def processlist(self) -> tuple[ProcessRow, ...]: ...

    def transactions(self) -> tuple[InnodbTransaction, ...]: ...

    def kill(self, *, command: KillCommand, expected: ProcessRow) -> str: ...

    def explain(self, *, statement: str) -> tuple[ExplainRow, ...]: ...


class UnsupportedRule(ValueError):
    """A backend cannot enforce a rule of this mode (e.g. rate limits on Istio)."""


class TooManyRules(ValueError):
    """More rules than the backend's schema allows in one object."""


class TrafficPolicyBackend(Protocol):
    """Where client rules are enforced (Envoy Gateway, Istio, nginx).

    ``render`` is pure: the objects or files the rules become.  ``apply`` adds
    (or replaces, by rule id) rules; ``remove`` drops rules by id and keeps the
    rest; ``active`` returns the rules the backend holds now, read back from
    where it stores them, so a restarted operator sees what is in force.
    Shadow rules are kept but never enforced.
    """

    name: str

    def render(self, *, rules: Sequence[ClientRule]) -> list[dict[str, Any]]: ...

    def apply(self, *, rules: Sequence[ClientRule]) -> None: ...

    def remove(self, *, rules: Sequence[ClientRule]) -> None: ...

    def active(self) -> tuple[ClientRule, ...]: ...


class ObjectStore(Protocol):
    """Namespaced Kubernetes objects by apiVersion/kind/name (implemented on the API client).

    ``get`` returns None for a missing object; ``put`` creates or replaces the whole
    object; ``delete`` ignores a missing one.
    """

    def get(
        self, *, api_version: str, kind: str, namespace: str, name: str
    ) -> dict[str, Any] | None: ...

    def put(self, *, obj: Mapping[str, Any]) -> None: ...

    def delete(self, *, api_version: str, kind: str, namespace: str, name: str) -> None: ...


# --------------------------------------------------------------------- pods and the ledger
# (appended by the drain / executor work: service/execute.py)


class ClusterError(RuntimeError):
    """An apiserver call of the executor failed: what was asked, the HTTP status and body."""

    def __init__(self, *, what: str, status: int | None, body: str = "") -> None:
        self.what = what
        self.status = status
        self.body = body
        shown = f"HTTP {status}" if status is not None else "no HTTP answer"
        super().__init__(f"{what}: {shown}" + (f"; body: {body[:500]}" if body else ""))


class VersionConflict(ClusterError):
    """An optimistic-concurrency write lost (HTTP 409): re-read and decide again."""


class Cluster(Protocol):
    """Pods as the drain action sees them (implemented on the Kubernetes API).

    ``quarantine`` takes the record's ``removed_labels`` off the pod, adds the
    quarantine label and writes the record as an annotation in ONE patch guarded
    by the pod's resourceVersion (``VersionConflict`` if the pod changed since it
    was read), so a pod is either fully quarantined or not at all.  Taking the
    Services' selector labels off makes the EndpointSlice controller drop the pod
    from every Service; the pod itself keeps running for forensics.
    ``unquarantine`` puts ``labels`` back and removes the record and the label, in
    one patch guarded the same way.
    ``evict`` goes through the Eviction API only (PodDisruptionBudgets respected);
    ``dry_run`` asks the apiserver for a server-side dry run (``dryRun=All``).
    ``paused`` reads the cluster-wide pause switch (models/controls.py).
    ``pods_with_ip`` lists the pods of ``namespace`` whose ``status.podIP`` is
    ``ip`` (an address in normal form; the caller validated it).
    """

    def get_pod(self, *, namespace: str, name: str) -> PodInfo | None: ...

    def list_pods(self, *, namespace: str) -> tuple[PodInfo, ...]: ...

    def pods_with_ip(self, *, namespace: str, ip: str) -> tuple[PodInfo, ...]: ...

    def list_quarantined(self) -> tuple[PodInfo, ...]: ...

    def service_selector_keys(self, *, pod: PodInfo) -> tuple[str, ...]: ...

    def quarantine(self, *, pod: PodInfo, record: QuarantineRecord) -> PodInfo: ...

    def unquarantine(self, *, pod: PodInfo, labels: Mapping[str, str]) -> PodInfo: ...

    def evict(
        self, *, namespace: str, name: str, grace_period_seconds: int | None, dry_run: bool
    ) -> EvictionResult: ...

    def paused(self) -> bool: ...

    def post_event(self, *, note: EventNote) -> None: ...


class LeaseStore(Protocol):
    """The leader-election lease (a coordination.k8s.io Lease in the operator's namespace).

    ``read`` returns None while no lease exists.  ``write`` creates it when
    ``record.version`` is None, else replaces the version read; it raises
    ``VersionConflict`` when another replica wrote (or created) it first, and
    ``ClusterError`` when the apiserver cannot be asked.
    """

    @property
    def ref(self) -> str: ...

    def read(self) -> LeaseRecord | None: ...

    def write(self, *, record: LeaseRecord) -> LeaseRecord: ...


class DocumentStore(Protocol):
    """One text document with optimistic concurrency (the action ledger's ConfigMap).

    ``write`` with the ``version`` read creates the object when ``version`` is None;
    it raises ``VersionConflict`` when someone else wrote (or created) it first,
    and returns the new version.
    """

    def read(self) -> StoredDocument: ...

    def write(self, *, text: str, version: str | None) -> str: ...


# --------------------------------------------------------------------- direct observations
# (appended by the enrichment work: service/enrich.py)


class RedisProbe(Protocol):
    """One Redis server, read-only, as the enrichment asks it directly.

    ``slowlog`` returns at most ``limit`` entries, newest first; ``slowlog_threshold``
    is ``slowlog-log-slower-than`` in seconds, or None when CONFIG is refused.
    ``key_sizes`` reports type, element count and memory of the given keys (at most
    50; a missing key has type ``"none"``).  Failures raise ``RuntimeError``s that
    name the server and what was asked.
    """

    def describe(self) -> str: ...

    def slowlog(self, *, limit: int) -> tuple[SlowlogEntry, ...]: ...

    def slowlog_threshold(self) -> float | None: ...

    def info(self) -> RedisInfo: ...

    def latency_latest(self) -> tuple[LatencyEvent, ...]: ...

    def key_sizes(self, *, keys: Sequence[str]) -> tuple[KeySize, ...]: ...


class EnrichmentOptions(Protocol):
    """How much the enrichment asks (``entrypoints.enrichment.EnrichmentSettings`` is one).

    ``mysql_component`` limits EXPLAIN to the statements of that component's evidence
    (None: any component's); ``redis_component`` names the component the Redis
    observations are about; ``timeout_seconds`` is the budget of the whole step.
    """

    @property
    def mysql_component(self) -> str | None: ...

    @property
    def redis_component(self) -> str: ...

    @property
    def timeout_seconds(self) -> float: ...

    @property
    def max_statements(self) -> int: ...

    @property
    def slowlog_limit(self) -> int: ...

    @property
    def max_keys_sized(self) -> int: ...


class NotificationError(RuntimeError):
    """A sink did not take a notification: says where, and the status and body it answered."""


class NotificationPort(Protocol):
    """One configured notification sink (Slack, a CloudEvents receiver, an Alertmanager).

    ``send`` POSTs ``body`` as JSON to the sink's URL with ``path`` appended, or raises
    ``NotificationError``.  Never the URL in the error when it came from a Secret.
    """

    def send(self, *, path: str, content_type: str, body: Mapping[str, Any]) -> None: ...
