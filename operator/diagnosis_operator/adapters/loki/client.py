"""Loki over its documented HTTP API, and a ``LogSource`` on top of it.

``LokiClient`` speaks ``/loki/api/v1/{push,query,query_range,labels,label/<name>/values,
series}``: JSON in and out, nanosecond timestamps as decimal strings, tenant in
``X-Scope-OrgID``.  It respects Loki's limits: a log query asks for at most
``max_entries_per_query`` entries (Loki's ``max_entries_limit_per_query``,
5000 by default) and pages forward past the last timestamp it got; a metric
range query is split so that no request has more than 11,000 points per series
or spans more than ``max_query_length``.

``LokiLogSource`` implements ``ports.LogSource``: aggregation runs in Loki
(``count_over_time``), raw lines come back only as bounded samples.
"""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, NotRequired, TypedDict, cast

import requests

from diagnosis_operator.adapters import logql
from diagnosis_operator.adapters.querytext import label_name
from diagnosis_operator.models.signals import Labels, LogCount, LogLine, LogStream, Window
from diagnosis_operator.models.timefmt import nanos_to_seconds as from_nanos
from diagnosis_operator.models.timefmt import seconds_to_nanos as to_nanos
from diagnosis_operator.ports import SignalError

BACKEND = "loki"
# Loki refuses a range query with more than this many steps per series.
MAX_POINTS_PER_SERIES = 11_000
# Loki's max_entries_limit_per_query default.
DEFAULT_MAX_ENTRIES = 5_000
# Loki's max_query_length default (721h).
DEFAULT_MAX_QUERY_LENGTH = 721 * 3600.0
# One push request carries at most about this many bytes of log lines.
PUSH_BATCH_BYTES = 1 << 20

Direction = Literal["forward", "backward"]


# --- Raw upstream JSON ----------------------------------------------------------------


class RawStream(TypedDict):
    stream: dict[str, str]
    values: list[list[Any]]


class RawMatrixSeries(TypedDict):
    metric: dict[str, str]
    values: list[list[Any]]


class RawVectorSample(TypedDict):
    metric: dict[str, str]
    value: list[Any]


class RawQueryData(TypedDict):
    resultType: str
    result: list[Any]
    stats: NotRequired[dict[str, Any]]


class RawQueryResponse(TypedDict):
    status: str
    data: RawQueryData


class RawListResponse(TypedDict):
    status: str
    data: list[Any]


# --- Time ------------------------------------------------------------------------------


def _duration_param(seconds: float) -> str:
    # Loki takes a float number of seconds for step.
    return format(Decimal(repr(float(seconds))).normalize(), "f")


# --- Results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryResult:
    """One answer of ``query`` / ``query_range``: streams or series, and Loki's stats."""

    result_type: str
    streams: tuple[LogStream, ...] = ()
    series: tuple[LogCount, ...] = ()
    stats: Mapping[str, Any] = field(default_factory=dict)


def _labels(raw: object, *, what: str) -> Labels:
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise ValueError(f"{what}: expected a label object of strings, got {raw!r:.200}")
    return Labels(cast(dict[str, str], raw))


def parse_streams(result: list[Any]) -> list[LogStream]:
    """``resultType: streams`` into LogStreams, each sorted oldest first.  Pure."""
    streams: list[LogStream] = []
    for item in cast(list[RawStream], result):
        labels = _labels(item.get("stream"), what="stream labels")
        lines: list[LogLine] = []
        for entry in item.get("values") or []:
            if not isinstance(entry, list) or len(entry) < 2 or not isinstance(entry[1], str):
                raise ValueError(f'stream entry: expected ["<ns>", "<line>"], got {entry!r:.200}')
            lines.append(LogLine(ts=from_nanos(entry[0]), line=entry[1]))
        lines.sort(key=lambda line: (line.ts, line.line))
        streams.append(LogStream(labels=labels, lines=tuple(lines)))
    return streams


def _sample_value(raw: object) -> float:
    if not isinstance(raw, str):
        raise ValueError(f"sample value: expected a string, got {raw!r:.100}")
    return float(raw)


def parse_matrix(result: list[Any]) -> list[LogCount]:
    """``resultType: matrix`` into LogCounts.  Pure."""
    series: list[LogCount] = []
    for item in cast(list[RawMatrixSeries], result):
        labels = _labels(item.get("metric"), what="series labels")
        points = sorted((float(ts), _sample_value(value)) for ts, value in item.get("values") or [])
        series.append(
            LogCount(
                labels=labels,
                timestamps=tuple(ts for ts, _ in points),
                values=tuple(value for _, value in points),
            )
        )
    return series


def parse_vector(result: list[Any]) -> list[LogCount]:
    """``resultType: vector`` into one-point LogCounts.  Pure."""
    series: list[LogCount] = []
    for item in cast(list[RawVectorSample], result):
        labels = _labels(item.get("metric"), what="sample labels")
        ts, value = item["value"]
        series.append(
            LogCount(labels=labels, timestamps=(float(ts),), values=(_sample_value(value),))
        )
    return series


def _merge_counts(parts: Iterable[LogCount]) -> list[LogCount]:
    merged: dict[Labels, dict[float, float]] = {}
    for part in parts:
        points = merged.setdefault(part.labels, {})
        points.update(zip(part.timestamps, part.values, strict=True))
    return [
        LogCount(
            labels=labels,
            timestamps=tuple(sorted(points)),
            values=tuple(points[ts] for ts in sorted(points)),
        )
        for labels, points in merged.items()
    ]


def metric_chunks(
    *, window: Window, step: float, max_points: int, max_length: float
) -> list[tuple[float, float]]:
    """Split ``window`` into ``(start, end)`` pieces on the same step grid.  Pure.

    Each piece has at most ``max_points`` steps per series (Loki counts
    ``(end - start) // step``, which must not exceed 11,000) and spans at most
    ``max_length`` seconds.
    """
    if step <= 0:
        raise ValueError(f"step must be positive, got {step!r}")
    total_steps = int((window.end - window.start) // step)
    per_chunk = max(1, min(max_points, int(max_length // step)))
    chunks: list[tuple[float, float]] = []
    first = 0
    while first <= total_steps:
        last = min(first + per_chunk - 1, total_steps)
        chunks.append((window.start + first * step, window.start + last * step))
        first = last + 1
    return chunks


def default_step(window: Window) -> float:
    """Loki's own default step: duration/250 seconds, at least 1, within 11,000 points.  Pure."""
    seconds = max(float(int(window.duration // 250)), 1.0)
    while window.duration / seconds > MAX_POINTS_PER_SERIES:
        seconds += 1.0
    return seconds


# --- The client ------------------------------------------------------------------------


class LokiClient:
    """A small, strict client for Loki's HTTP API (``requests``)."""

    def __init__(
        self,
        url: str,
        *,
        tenant: str | None = None,
        headers: Mapping[str, str] | None = None,
        bearer_token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        timeout: float = 30.0,
        retries: int = 2,
        backoff: float = 0.5,
        verify_tls: bool | str = True,
        max_entries_per_query: int = DEFAULT_MAX_ENTRIES,
        max_query_length: float = DEFAULT_MAX_QUERY_LENGTH,
        session: requests.Session | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"Loki URL must start with http:// or https://, got {url!r}")
        if bearer_token is not None and basic_auth is not None:
            raise ValueError("give either bearer_token or basic_auth, not both")
        if retries < 0 or backoff < 0 or timeout <= 0:
            raise ValueError("retries and backoff must be >= 0 and timeout > 0")
        if max_entries_per_query <= 0:
            raise ValueError(f"max_entries_per_query must be positive, got {max_entries_per_query}")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_entries_per_query = max_entries_per_query
        self.max_query_length = max_query_length
        self._session = session or requests.Session()
        self._session.verify = verify_tls
        self._headers: dict[str, str] = dict(headers or {})
        if tenant:
            self._headers["X-Scope-OrgID"] = tenant
        if bearer_token is not None:
            self._headers["Authorization"] = f"Bearer {bearer_token}"
        self._auth = basic_auth

    def __repr__(self) -> str:
        # Never show headers: they may hold credentials.
        return f"LokiClient({self.url!r})"

    def close(self) -> None:
        self._session.close()

    # -- transport --

    def _request(
        self,
        method: str,
        path: str,
        *,
        query: str,
        window: Window | None,
        params: Mapping[str, str | list[str]] | None = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = f"{self.url}{path}"
        attempt = 0
        while True:
            try:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    headers={**self._headers, **(headers or {})},
                    auth=self._auth,
                    timeout=self.timeout,
                )
            except requests.RequestException as error:
                if attempt < self.retries:
                    attempt += 1
                    time.sleep(self.backoff * 2 ** (attempt - 1))
                    continue
                raise SignalError(
                    backend=BACKEND,
                    query=query,
                    window=window,
                    reason=f"{method} {path}: {type(error).__name__}: {error}",
                ) from error
            status = response.status_code
            if (status == 429 or status >= 500) and attempt < self.retries:
                attempt += 1
                time.sleep(self.backoff * 2 ** (attempt - 1))
                continue
            if not 200 <= status < 300:
                raise SignalError(
                    backend=BACKEND,
                    query=query,
                    window=window,
                    status=status,
                    body=response.text.strip(),
                    reason=f"{method} {path}",
                )
            return response

    def _get_json(
        self,
        path: str,
        *,
        query: str,
        window: Window | None,
        params: Mapping[str, str | list[str]],
    ) -> Any:
        response = self._request("GET", path, query=query, window=window, params=params)
        try:
            body = response.json()
        except ValueError as error:
            raise SignalError(
                backend=BACKEND,
                query=query,
                window=window,
                status=response.status_code,
                body=response.text[:500],
                reason=f"GET {path}: response is not JSON",
            ) from error
        if not isinstance(body, dict) or body.get("status") != "success":
            raise SignalError(
                backend=BACKEND,
                query=query,
                window=window,
                status=response.status_code,
                body=response.text[:500],
                reason=f"GET {path}: status is not success",
            )
        return body

    def _query_result(
        self, path: str, *, query: str, window: Window | None, params: Mapping[str, str]
    ) -> QueryResult:
        body = cast(
            RawQueryResponse, self._get_json(path, query=query, window=window, params=params)
        )
        data = body.get("data")
        try:
            if not isinstance(data, dict):
                raise ValueError("data is not an object")
            result_type = data.get("resultType")
            result = data.get("result") or []
            stats = data.get("stats") or {}
            if result_type == "streams":
                return QueryResult("streams", streams=tuple(parse_streams(result)), stats=stats)
            if result_type == "matrix":
                return QueryResult("matrix", series=tuple(parse_matrix(result)), stats=stats)
            if result_type == "vector":
                return QueryResult("vector", series=tuple(parse_vector(result)), stats=stats)
            raise ValueError(f"unsupported resultType {result_type!r}")
        except (ValueError, KeyError, TypeError) as error:
            raise SignalError(
                backend=BACKEND,
                query=query,
                window=window,
                reason=f"GET {path}: unexpected response: {error}",
            ) from error

    # -- queries --

    def query_range(
        self,
        query: str,
        *,
        start: float,
        end: float,
        step: float | None = None,
        limit: int | None = None,
        direction: Direction = "backward",
    ) -> QueryResult:
        """One ``GET /loki/api/v1/query_range`` (no paging, no splitting).

        ``start`` is inclusive and ``end`` exclusive for log entries (Loki's
        rule); metric steps run ``start, start+step, ... <= end``.
        """
        window = Window(start, end)
        if direction not in ("forward", "backward"):
            raise ValueError(f"direction must be forward or backward, got {direction!r}")
        params: dict[str, str] = {
            "query": query,
            "start": str(to_nanos(start)),
            "end": str(to_nanos(end)),
            "direction": direction,
        }
        if step is not None:
            if step <= 0:
                raise ValueError(f"step must be positive, got {step!r}")
            params["step"] = _duration_param(step)
        if limit is not None:
            if limit <= 0:
                raise ValueError(f"limit must be positive, got {limit!r}")
            params["limit"] = str(int(limit))
        return self._query_result(
            "/loki/api/v1/query_range", query=query, window=window, params=params
        )

    def query(
        self,
        query: str,
        *,
        time: float,
        limit: int | None = None,
        direction: Direction = "backward",
    ) -> QueryResult:
        """One ``GET /loki/api/v1/query`` (instant; Loki serves metric queries only)."""
        params: dict[str, str] = {
            "query": query,
            "time": str(to_nanos(time)),
            "direction": direction,
        }
        if limit is not None:
            params["limit"] = str(int(limit))
        return self._query_result("/loki/api/v1/query", query=query, window=None, params=params)

    def log_range(
        self,
        query: str,
        *,
        window: Window,
        limit: int,
    ) -> list[LogStream]:
        """Up to ``limit`` entries of a log query, oldest first, over closed ``window``.

        Pages forward: each request asks for at most ``max_entries_per_query``
        entries; the next one starts at the last timestamp seen (Loki's start
        is inclusive) and drops the entries already returned at that instant.
        Timestamps stay integer nanoseconds until the end, so paging is exact.
        """
        if limit <= 0:
            raise ValueError(f"limit must be positive, got {limit!r}")
        start_ns = to_nanos(window.start)
        # Loki's end is exclusive; the window is closed.
        end_ns = to_nanos(window.end) + 1
        collected: list[tuple[Labels, int, str]] = []
        boundary_ns: int | None = None
        boundary_seen: Counter[tuple[Labels, int, str]] = Counter()
        while len(collected) < limit and start_ns < end_ns:
            wanted = limit - len(collected) + sum(boundary_seen.values())
            page_limit = min(self.max_entries_per_query, wanted)
            params = {
                "query": query,
                "start": str(start_ns),
                "end": str(end_ns),
                "limit": str(page_limit),
                "direction": "forward",
            }
            page = self._log_page(query=query, window=window, params=params)
            fresh: list[tuple[Labels, int, str]] = []
            pending = Counter(boundary_seen)
            for entry in page:
                if entry[1] == boundary_ns and pending[entry] > 0:
                    pending[entry] -= 1
                    continue
                fresh.append(entry)
            collected.extend(fresh[: limit - len(collected)])
            if len(page) < page_limit:
                break
            last_ns = page[-1][1]
            if not fresh:
                # A whole page at one instant, all seen before: Loki's API
                # cannot reach further entries at this instant; move past it.
                start_ns, boundary_ns, boundary_seen = last_ns + 1, None, Counter()
                continue
            if last_ns != boundary_ns:
                boundary_seen = Counter()
            boundary_ns = last_ns
            boundary_seen.update(entry for entry in fresh if entry[1] == last_ns)
            start_ns = last_ns
        return _group_streams(collected)

    def _log_page(
        self, *, query: str, window: Window, params: Mapping[str, str]
    ) -> list[tuple[Labels, int, str]]:
        path = "/loki/api/v1/query_range"
        body = cast(
            RawQueryResponse, self._get_json(path, query=query, window=window, params=params)
        )
        data = body.get("data")
        if not isinstance(data, dict) or data.get("resultType") != "streams":
            kind = data.get("resultType") if isinstance(data, dict) else None
            raise SignalError(
                backend=BACKEND,
                query=query,
                window=window,
                reason=f"expected a log query (resultType streams), got {kind!r}",
            )
        entries: list[tuple[Labels, int, str]] = []
        try:
            for item in cast(list[RawStream], data.get("result") or []):
                labels = _labels(item.get("stream"), what="stream labels")
                for value in item.get("values") or []:
                    ns, line = value[0], value[1]
                    if not isinstance(ns, str) or not isinstance(line, str):
                        raise ValueError(f"stream entry: expected two strings, got {value!r:.200}")
                    entries.append((labels, int(ns), line))
        except (ValueError, IndexError, TypeError) as error:
            raise SignalError(
                backend=BACKEND,
                query=query,
                window=window,
                reason=f"GET {path}: unexpected response: {error}",
            ) from error
        entries.sort(key=lambda entry: (entry[1], entry[2]))
        return entries

    def metric_range(self, query: str, *, window: Window, step: float) -> list[LogCount]:
        """A metric range query over ``window`` at ``step``, split within Loki's limits."""
        parts: list[LogCount] = []
        for start, end in metric_chunks(
            window=window,
            step=step,
            max_points=MAX_POINTS_PER_SERIES,
            max_length=self.max_query_length,
        ):
            if end <= start:
                # A single step: Loki needs end > start for query_range; ask
                # [start, start + step/2], which evaluates at start only.
                end = start + step / 2
            result = self.query_range(query, start=start, end=end, step=step)
            if result.result_type != "matrix":
                raise SignalError(
                    backend=BACKEND,
                    query=query,
                    window=window,
                    reason=f"expected a metric query (matrix), got {result.result_type}",
                )
            parts.extend(result.series)
        return _merge_counts(parts)

    # -- metadata --

    def labels(self, *, start: float, end: float, query: str | None = None) -> list[str]:
        """``GET /loki/api/v1/labels``: label names seen in [start, end]."""
        params = _label_params(start=start, end=end, query=query)
        body = cast(
            RawListResponse,
            self._get_json(
                "/loki/api/v1/labels",
                query=query or "labels",
                window=Window(start, end),
                params=params,
            ),
        )
        return [str(name) for name in body.get("data") or []]

    def label_values(
        self, name: str, *, start: float, end: float, query: str | None = None
    ) -> list[str]:
        """``GET /loki/api/v1/label/<name>/values``."""
        checked = label_name(name)
        params = _label_params(start=start, end=end, query=query)
        body = cast(
            RawListResponse,
            self._get_json(
                f"/loki/api/v1/label/{checked}/values",
                query=query or f"label {checked} values",
                window=Window(start, end),
                params=params,
            ),
        )
        return [str(value) for value in body.get("data") or []]

    def series(self, match: Sequence[str], *, start: float, end: float) -> list[Labels]:
        """``GET /loki/api/v1/series``: the label sets of streams matching any selector."""
        if not match:
            raise ValueError("series needs at least one match[] selector")
        params: dict[str, str | list[str]] = {
            "match[]": list(match),
            "start": str(to_nanos(start)),
            "end": str(to_nanos(end)),
        }
        body = cast(
            RawListResponse,
            self._get_json(
                "/loki/api/v1/series",
                query=" or ".join(match),
                window=Window(start, end),
                params=params,
            ),
        )
        try:
            return [_labels(item, what="series") for item in body.get("data") or []]
        except ValueError as error:
            raise SignalError(
                backend=BACKEND,
                query=" or ".join(match),
                window=Window(start, end),
                reason=f"unexpected series response: {error}",
            ) from error

    def ready(self) -> bool:
        """``GET /ready`` answers 200 when Loki can serve."""
        try:
            response = self._session.get(
                f"{self.url}/ready", headers=self._headers, auth=self._auth, timeout=self.timeout
            )
        except requests.RequestException:
            return False
        return response.status_code == 200

    # -- ingestion --

    def push(self, streams: Sequence[LogStream]) -> int:
        """``POST /loki/api/v1/push`` (gzipped JSON) in batches; returns the lines sent."""
        sent = 0
        for batch in _push_batches(streams, max_bytes=PUSH_BATCH_BYTES):
            payload = {
                "streams": [
                    {
                        "stream": dict(stream.labels),
                        "values": [[str(to_nanos(line.ts)), line.line] for line in stream.lines],
                    }
                    for stream in batch
                ]
            }
            body = gzip.compress(json.dumps(payload, ensure_ascii=False).encode("utf-8"))
            lines = sum(len(stream.lines) for stream in batch)
            self._request(
                "POST",
                "/loki/api/v1/push",
                query=f"push of {lines} lines in {len(batch)} streams",
                window=None,
                data=body,
                headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
            )
            sent += lines
        return sent


def _push_batches(streams: Sequence[LogStream], *, max_bytes: int) -> Iterable[list[LogStream]]:
    batch: list[LogStream] = []
    size = 0
    for stream in streams:
        if not stream.labels:
            raise ValueError("a pushed stream needs at least one label")
        chunk: list[LogLine] = []
        for line in stream.lines:
            cost = len(line.line.encode("utf-8")) + 32
            if size + cost > max_bytes and (chunk or batch):
                if chunk:
                    batch.append(LogStream(labels=stream.labels, lines=tuple(chunk)))
                yield batch
                batch, chunk, size = [], [], 0
            chunk.append(line)
            size += cost
        if chunk:
            batch.append(LogStream(labels=stream.labels, lines=tuple(chunk)))
    if batch:
        yield batch


def _group_streams(entries: Sequence[tuple[Labels, int, str]]) -> list[LogStream]:
    grouped: dict[Labels, list[LogLine]] = {}
    for labels, ns, line in entries:
        grouped.setdefault(labels, []).append(LogLine(ts=from_nanos(ns), line=line))
    return [
        LogStream(labels=labels, lines=tuple(sorted(lines, key=lambda line: (line.ts, line.line))))
        for labels, lines in sorted(grouped.items(), key=lambda item: sorted(item[0].items()))
    ]


# --- The LogSource ---------------------------------------------------------------------


class LokiLogSource:
    """``ports.LogSource`` over a live Loki: counts are LogQL metric queries."""

    def __init__(self, client: LokiClient) -> None:
        self.client = client

    def sample_lines(
        self,
        *,
        selector: Mapping[str, str],
        window: Window,
        line_filter: str | None,
        limit: int,
    ) -> list[LogStream]:
        query = logql.log_query(selector=selector, line_filter=line_filter)
        return self.client.log_range(query, window=window, limit=limit)

    def count_lines(
        self,
        *,
        selector: Mapping[str, str],
        window: Window,
        step: float,
        line_filter: str | None,
        by: Sequence[str],
    ) -> list[LogCount]:
        query = logql.count_query(selector=selector, line_filter=line_filter, by=by, step=step)
        return _with_group_labels(self.client.metric_range(query, window=window, step=step), by)

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
    ) -> list[LogCount]:
        query = logql.extract_count_query(
            selector=selector, line_filter=line_filter, pattern=pattern, by=by, step=step, top=top
        )
        return _with_group_labels(self.client.metric_range(query, window=window, step=step), by)

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
        return logql.describe_query(
            selector=selector, line_filter=line_filter, pattern=pattern, by=by, step=step, top=top
        )


def _label_params(*, start: float, end: float, query: str | None) -> dict[str, str]:
    """The parameters of Loki's label endpoints: a time range, optionally a selector."""
    params = {"start": str(to_nanos(start)), "end": str(to_nanos(end))}
    if query:
        params["query"] = query
    return params


def _with_group_labels(series: list[LogCount], by: Sequence[str]) -> list[LogCount]:
    # Loki drops empty labels from a result (`sum by (ip)` over lines without an
    # ip gives `{}`); the LogSource contract gives every grouping label a value,
    # empty when the line had none.
    return sorted(
        (
            LogCount(
                labels=Labels({name: series_item.labels.get(name, "") for name in by}),
                timestamps=series_item.timestamps,
                values=series_item.values,
            )
            for series_item in series
        ),
        key=lambda item: sorted(item.labels.items()),
    )
