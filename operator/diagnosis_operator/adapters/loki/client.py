"""``LokiClient``: Loki's documented HTTP API, within Loki's limits.

It speaks ``/loki/api/v1/{push,query,query_range,labels,label/<name>/values,
series}``: JSON in and out, nanosecond timestamps as decimal strings, tenant in
``X-Scope-OrgID``.  A log query asks for at most ``max_entries_per_query``
entries (Loki's ``max_entries_limit_per_query``, 5000 by default) and pages
forward past the last timestamp it got; a metric range query is split so that
no request has more than 11,000 points per series or spans more than
``max_query_length``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, Unpack, cast

from diagnosis_operator.adapters.loki.http import BACKEND, LokiHTTP, LokiOptions
from diagnosis_operator.adapters.loki.limits import (
    DEFAULT_MAX_ENTRIES,
    DEFAULT_MAX_QUERY_LENGTH,
    MAX_POINTS_PER_SERIES,
    merge_counts,
    metric_chunks,
)
from diagnosis_operator.adapters.loki.nanos import duration_param, to_nanos
from diagnosis_operator.adapters.loki.paging import page_forward
from diagnosis_operator.adapters.loki.push import push_streams
from diagnosis_operator.adapters.loki.wire import (
    Entry,
    QueryResult,
    RawListResponse,
    RawQueryResponse,
    labels_of,
    parse_entries,
    parse_query_result,
)
from diagnosis_operator.models.querytext import label_name
from diagnosis_operator.models.signals import Labels, LogCount, LogStream, Window
from diagnosis_operator.ports import SignalError

Direction = Literal["forward", "backward"]


class LokiClient:
    """A small, strict client for Loki's HTTP API (``requests``)."""

    def __init__(
        self,
        url: str,
        *,
        max_entries_per_query: int = DEFAULT_MAX_ENTRIES,
        max_query_length: float = DEFAULT_MAX_QUERY_LENGTH,
        **options: Unpack[LokiOptions],
    ) -> None:
        """``options`` are the transport's (``LokiHTTP``): tenant, credentials, timeout,
        retries and backoff (through ``adapters.http``'s session), TLS, a session."""
        if max_entries_per_query <= 0:
            raise ValueError(f"max_entries_per_query must be positive, got {max_entries_per_query}")
        self._http = LokiHTTP(url, **options)
        self.url = self._http.url
        self.timeout = self._http.timeout
        self.retries = self._http.retries
        self.backoff = self._http.backoff
        self.max_entries_per_query = max_entries_per_query
        self.max_query_length = max_query_length

    def __repr__(self) -> str:
        # Never show headers: they may hold credentials.
        return f"LokiClient({self.url!r})"

    def close(self) -> None:
        self._http.close()

    def _query_result(
        self, path: str, *, query: str, window: Window | None, params: Mapping[str, str]
    ) -> QueryResult:
        body = cast(
            RawQueryResponse, self._http.get_json(path, query=query, window=window, params=params)
        )
        try:
            return parse_query_result(body.get("data"))
        except (ValueError, KeyError, TypeError) as error:
            raise _unexpected(path, query=query, window=window, error=error) from error

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
            params["step"] = duration_param(step)
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

    def log_range(self, query: str, *, window: Window, limit: int) -> list[LogStream]:
        """Up to ``limit`` entries of a log query, oldest first, over closed ``window``.

        Pages forward: each request asks for at most ``max_entries_per_query``
        entries; the next one starts at the last timestamp seen (Loki's start
        is inclusive) and drops the entries already returned at that instant.
        Timestamps stay integer nanoseconds until the end, so paging is exact.
        """
        if limit <= 0:
            raise ValueError(f"limit must be positive, got {limit!r}")
        return page_forward(
            lambda params: self._log_page(query=query, window=window, params=params),
            query=query,
            window=window,
            limit=limit,
            page_size=self.max_entries_per_query,
        )

    def _log_page(self, *, query: str, window: Window, params: Mapping[str, str]) -> list[Entry]:
        path = "/loki/api/v1/query_range"
        body = cast(
            RawQueryResponse, self._http.get_json(path, query=query, window=window, params=params)
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
        try:
            return parse_entries(data.get("result") or [])
        except (ValueError, IndexError, TypeError) as error:
            raise _unexpected(path, query=query, window=window, error=error) from error

    def metric_range(self, query: str, *, window: Window, step: float) -> list[LogCount]:
        """A metric range query over ``window`` at ``step``, split within Loki's limits."""
        parts: list[LogCount] = []
        for start, end in metric_chunks(
            window=window,
            step=step,
            max_points=MAX_POINTS_PER_SERIES,
            max_length=self.max_query_length,
        ):
            # A single step: Loki needs end > start for query_range; ask
            # [start, start + step/2], which evaluates at start only.
            result = self.query_range(
                query, start=start, end=end if end > start else start + step / 2, step=step
            )
            if result.result_type != "matrix":
                raise SignalError(
                    backend=BACKEND,
                    query=query,
                    window=window,
                    reason=f"expected a metric query (matrix), got {result.result_type}",
                )
            parts.extend(result.series)
        return merge_counts(parts)

    # -- metadata --

    def labels(self, *, start: float, end: float, query: str | None = None) -> list[str]:
        """``GET /loki/api/v1/labels``: label names seen in [start, end]."""
        body = cast(
            RawListResponse,
            self._http.get_json(
                "/loki/api/v1/labels",
                query=query or "labels",
                window=Window(start, end),
                params=_label_params(start=start, end=end, query=query),
            ),
        )
        return [str(name) for name in body.get("data") or []]

    def label_values(
        self, name: str, *, start: float, end: float, query: str | None = None
    ) -> list[str]:
        """``GET /loki/api/v1/label/<name>/values``."""
        checked = label_name(name)
        body = cast(
            RawListResponse,
            self._http.get_json(
                f"/loki/api/v1/label/{checked}/values",
                query=query or f"label {checked} values",
                window=Window(start, end),
                params=_label_params(start=start, end=end, query=query),
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
        asked = " or ".join(match)
        body = cast(
            RawListResponse,
            self._http.get_json(
                "/loki/api/v1/series", query=asked, window=Window(start, end), params=params
            ),
        )
        try:
            return [labels_of(item, what="series") for item in body.get("data") or []]
        except ValueError as error:
            raise SignalError(
                backend=BACKEND,
                query=asked,
                window=Window(start, end),
                reason=f"unexpected series response: {error}",
            ) from error

    def ready(self) -> bool:
        """``GET /ready`` answers 200 when Loki can serve."""
        return self._http.ready()

    # -- ingestion --

    def push(self, streams: Sequence[LogStream]) -> int:
        """``POST /loki/api/v1/push`` (gzipped JSON) in batches; returns the lines sent."""
        return push_streams(self._http, streams)


def _label_params(*, start: float, end: float, query: str | None) -> dict[str, str]:
    """The parameters of Loki's label endpoints: a time range, optionally a selector."""
    params = {"start": str(to_nanos(start)), "end": str(to_nanos(end))}
    if query:
        params["query"] = query
    return params


def _unexpected(path: str, *, query: str, window: Window | None, error: Exception) -> SignalError:
    """A Loki answer whose body does not parse: says what was asked and what broke."""
    return SignalError(
        backend=BACKEND,
        query=query,
        window=window,
        reason=f"GET {path}: unexpected response: {error}",
    )
