"""Prometheus through ``prometheus-api-client``: the live ``SeriesSource`` and ``PromQLSource``.

``PrometheusConnect`` does the HTTP; this adapter adds what the pipeline needs
on top of it:

* exact windows: the library rounds ``start``/``end`` to whole seconds, so the
  adapter passes its own (millisecond) values as request parameters;
* errors that say what was asked: a session response hook turns every non-200
  answer into a ``SignalError`` with the query, window, HTTP status and body
  (the library's own exception keeps only a repr of the body);
* retries through the shared session of ``adapters.http`` (urllib3 ``Retry``):
  connection errors, 429, 502, 503 and 504 with exponential backoff, a
  ``Retry-After`` honoured up to ``max_backoff``; never other 4xx (a bad query
  stays bad) nor a read timeout (a slow query asked again is as slow);
* Prometheus refuses range queries of more than 11,000 points per series, so
  long windows are split along the step grid and the pieces joined again;
* Thanos and Mimir frontends behind the same API (``prometheus_answers``):
  an answer with ``warnings`` is a ``PartialAnswer``, never a complete one,
  and a window over the frontend's ``max_query_length`` is asked in pieces.

Every selector is built by ``adapters.promql`` from label maps: input label
values never reach PromQL unescaped.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, cast

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from requests.adapters import BaseAdapter

from diagnosis_operator.adapters import promql
from diagnosis_operator.adapters.http import retry_policy, retrying_session
from diagnosis_operator.adapters.prometheus_answers import query_length_limit, warnings_of
from diagnosis_operator.adapters.prometheus_decode import (
    Grid,
    MatrixItem,
    decode_matrix,
    instant_series,
)
from diagnosis_operator.adapters.prometheus_types import family_types, type_of
from diagnosis_operator.models.signals import Labels, MetricType, Series, Window
from diagnosis_operator.ports import PartialAnswer, SignalError

log = logging.getLogger(__name__)

__all__ = [
    "MAX_POINTS_PER_SERIES",
    "PartialAnswer",
    "PrometheusAdapter",
    "SignalError",
    "query_length_limit",
    "split_window",
]

BACKEND: Final = "prometheus"
# Prometheus answers "exceeded maximum resolution of 11,000 points per timeseries".
MAX_POINTS_PER_SERIES: Final = 11_000
_BODY_LIMIT: Final = 2000


_Items = tuple[tuple[str, str], ...]  # a label set as sorted (name, value) pairs


class _UpstreamStatus(Exception):
    """An HTTP error answer, raised from the session hook so the library never sees it."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body


@dataclass(frozen=True, slots=True)
class _Request:
    """One attempt's description for errors: the query and its window (if any)."""

    query: str
    window: Window | None


def split_window(
    *, window: Window, step: float, max_points: int = MAX_POINTS_PER_SERIES
) -> list[Window]:
    """Pure.  Consecutive pieces of ``window`` on its step grid, each at most ``max_points`` steps.

    The evaluation instants of the pieces together are exactly those of the
    whole window (``start + k*step`` while ``<= end``).  A piece with a single
    instant is returned as a zero-length-safe window ending one millisecond
    later (a ``Window`` must have end > start); Prometheus evaluates only its
    start because the next step lies beyond its end.
    """
    if step <= 0 or not math.isfinite(step):
        raise ValueError(f"step must be a positive number of seconds, got {step!r}")
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1, got {max_points!r}")
    total = int((window.end - window.start) // step) + 1
    if total <= max_points:
        return [window]
    pieces: list[Window] = []
    for first in range(0, total, max_points):
        last = min(first + max_points, total) - 1
        start = window.start + first * step
        end = window.start + last * step
        if last == first:
            end = start + min(step / 2, 0.001)
        pieces.append(Window(start=start, end=end))
    return pieces


class PrometheusAdapter:
    """Raw series and PromQL from one Prometheus (or a compatible API such as Thanos)."""

    backend = "prometheus"  # the operator's metrics label for this source

    def __init__(  # noqa: PLR0913 (keyword-only connection options)
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        bearer_token: str | None = None,
        tenant: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 10.0,
        verify_tls: bool | str = True,
        disable_ssl: bool = False,
        max_points: int = MAX_POINTS_PER_SERIES,
        transport: BaseAdapter | None = None,
        partial_response: bool | None = None,
    ) -> None:
        """``verify_tls`` may be a CA bundle path; ``disable_ssl`` turns verification off.

        ``bearer_token`` becomes ``Authorization: Bearer``; ``tenant`` becomes
        ``X-Scope-OrgID`` (Mimir, Cortex, Thanos multi-tenancy).

        ``retries``, ``backoff`` and ``max_backoff`` shape the session's urllib3
        ``Retry`` (see ``adapters.http``).  ``transport`` replaces the HTTP
        adapter for ``url`` (tests, custom TLS), and with it the retries.
        ``partial_response`` (Thanos; ``None`` sends nothing): ``False`` asks
        for an error rather than a partial answer (``PartialAnswer``).
        """
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        retry = retry_policy(retries=retries, backoff=backoff, max_backoff=max_backoff)
        self.url = url.rstrip("/")
        self._timeout = timeout
        self._max_points = max_points
        self._extra: dict[str, str] = (
            {} if partial_response is None else {"partial_response": str(partial_response).lower()}
        )
        self._last_response = threading.local()
        self._types: Mapping[str, MetricType] | None = None
        self._types_lock = threading.Lock()  # components asking at once: one metadata call
        all_headers = dict(headers or {})
        if bearer_token:
            all_headers["Authorization"] = f"Bearer {bearer_token}"
        if tenant:
            all_headers["X-Scope-OrgID"] = tenant
        session = retrying_session(retry=retry, verify=False if disable_ssl else verify_tls)
        session.hooks["response"].append(self._check_response)
        self._session = session
        self._client = PrometheusConnect(
            url=self.url,
            headers=all_headers or None,
            disable_ssl=disable_ssl,
            # The library mounts its own HTTPAdapter for the URL: give it the same Retry.
            retry=retry,
            session=session,
            timeout=timeout,
        )
        if transport is not None:
            session.mount(self.url, transport)

    def __repr__(self) -> str:
        # Never show headers: they may hold credentials.
        return f"PrometheusAdapter({self.url!r})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PrometheusAdapter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # SeriesSource ---------------------------------------------------------

    def describe_selector(self, *, selector: Mapping[str, str]) -> str:
        return promql.selector(selector)

    def range_series(
        self, *, selector: Mapping[str, str], window: Window, step: float
    ) -> list[Series]:
        """Raw samples of every series ``selector`` matches, on the window's step grid.

        Each series carries the type its exporter declared, when Prometheus
        kept it (``prometheus_types``).
        """
        try:
            found = self.query_range(promql=promql.selector(selector), window=window, step=step)
        except PartialAnswer as partial:
            partial.answer = self._typed(partial.answer)
            raise
        return self._typed(found)

    def _typed(self, found: list[Series]) -> list[Series]:
        types = self._declared_types()
        if not types:
            return found
        return [replace(series, type=type_of(series.name, types)) for series in found]

    def series_types(self, names: Sequence[str]) -> dict[str, MetricType]:
        """The declared type of each series name (metadata asked once; UNKNOWN without)."""
        types = self._declared_types()
        return {name: type_of(name, types) for name in names}

    def _declared_types(self) -> Mapping[str, MetricType]:
        """The metadata of every family, asked once per adapter; empty if unavailable."""
        with self._types_lock:
            cached = self._types
            if cached is None:
                try:
                    cached = family_types(self._client.get_metric_metadata("", limit_per_metric=1))
                except Exception as error:
                    log.info("no metric metadata from %s (%s): types left unknown", self.url, error)
                    cached = {}
                self._types = cached
        return cached

    # PromQLSource ---------------------------------------------------------

    def query_range(self, *, promql: str, window: Window, step: float) -> list[Series]:
        """A range query; long windows are split so no piece exceeds ``max_points`` steps.

        A frontend's ``max_query_length`` refusal is answered by asking again
        in pieces within its limit; an answer with warnings raises
        ``PartialAnswer`` (with every piece's data).
        """
        if step <= 0 or not math.isfinite(step):
            raise SignalError(
                backend=BACKEND,
                query=promql,
                window=window,
                reason=f"step must be a positive number of seconds, got {step!r}",
            )
        warnings: list[str] = []
        try:
            found = self._query_range_pieces(
                promql=promql, window=window, step=step, max_points=self._max_points, notes=warnings
            )
        except SignalError as refused:
            limit = query_length_limit(refused)
            if limit is None or limit < step:
                raise
            warnings.clear()
            # Pieces of at most ``limit`` seconds: (points - 1) steps each.
            fitting = max(1, int(limit // step))
            found = self._query_range_pieces(
                promql=promql, window=window, step=step, max_points=fitting, notes=warnings
            )
        if warnings:
            raise PartialAnswer(
                backend=BACKEND, query=promql, window=window, answer=found, warnings=warnings
            )
        return found

    def _query_range_pieces(
        self, *, promql: str, window: Window, step: float, max_points: int, notes: list[str]
    ) -> list[Series]:
        grid = Grid()  # the answer's series share their timestamps
        pieces = [
            self._query_range_piece(
                promql=promql, piece=piece, window=window, step=step, notes=notes, grid=grid
            )
            for piece in split_window(window=window, step=step, max_points=max_points)
        ]
        merged: dict[tuple[str, _Items], tuple[tuple[float, ...], tuple[float, ...]]] = {}
        for items in pieces:
            for item in items:
                labels = dict(item.metric)
                key = (labels.pop("__name__", ""), tuple(sorted(labels.items())))
                before = merged.get(key, ((), ()))
                merged[key] = (
                    before[0] + item.timestamps if before[0] else item.timestamps,
                    before[1] + item.values,
                )
            items.clear()  # each piece's points are dropped once they are merged
        # Sorted like the offline source (by name, then the sorted labels): both list alike.
        return [
            Series(name=name, labels=Labels(dict(labels)), timestamps=ts, values=vs)
            for (name, labels), (ts, vs) in sorted(merged.items(), key=lambda item: item[0])
        ]

    def query_instant(self, *, promql: str, at: float) -> list[Series]:
        """An instant query at ``at``; a scalar result is one series without labels."""
        request = _Request(query=promql, window=None)
        notes: list[str] = []
        data = self._call(
            request,
            lambda: self._client.custom_query(
                query=promql, params={"time": _seconds(at), **self._extra}, timeout=self._timeout
            ),
            notes=notes,
        )
        found = instant_series(data, query=promql)
        if notes:
            raise PartialAnswer(
                backend=BACKEND, query=promql, window=None, answer=found, warnings=notes
            )
        return found

    # Policy validation and metadata --------------------------------------

    def check_query(self, *, promql: str, at: float | None = None) -> str | None:
        """Ask Prometheus to evaluate ``promql`` once; its error message, or None if accepted.

        Only a refusal of the query itself (HTTP 400/422) is returned; a
        Prometheus that cannot be reached raises ``SignalError``.
        """
        moment = time.time() if at is None else at
        try:
            self._call(
                _Request(query=promql, window=None),
                lambda: self._client.custom_query(
                    query=promql, params={"time": _seconds(moment)}, timeout=self._timeout
                ),
            )
        except SignalError as error:
            if error.status in (400, 422):
                return _error_message(error.body) or error.body
            raise
        return None

    def metadata(self) -> dict[str, MetricType]:
        """Family name -> type, from ``/api/v1/metadata`` (scraped targets only)."""
        entries = self._call(
            _Request(query="/api/v1/metadata", window=None),
            lambda: self._client.get_metric_metadata(metric=""),
        )
        types: dict[str, MetricType] = {}
        for entry in cast(list[dict[str, str]], entries):
            try:
                types[entry["metric_name"]] = MetricType(entry.get("type", "unknown"))
            except ValueError:
                types[entry["metric_name"]] = MetricType.UNKNOWN
        return types

    # Plumbing -------------------------------------------------------------

    def _query_range_piece(
        self,
        *,
        promql: str,
        piece: Window,
        window: Window,
        step: float,
        notes: list[str],
        grid: Grid,
    ) -> list[MatrixItem]:
        """One ``/api/v1/query_range``, decoded series by series (``prometheus_decode``)."""
        params = {
            "query": promql,
            "start": _seconds(piece.start),
            "end": _seconds(piece.end),
            "step": _seconds(step),
            **self._extra,
        }
        request = _Request(query=promql, window=window)
        items: list[MatrixItem] = self._call(
            request,
            lambda: decode_matrix(self._get("/api/v1/query_range", params), grid=grid),
            notes=notes,
        )
        return items

    def _get(self, path: str, params: Mapping[str, str]) -> bytes:
        """The body of one GET (statuses >= 400 are raised by the session hook)."""
        response = self._session.get(
            f"{self.url}{path}",
            params=params,
            headers=self._client.headers,
            timeout=self._timeout,
        )
        if response.status_code != 200:
            raise PrometheusApiClientException(f"HTTP Status Code {response.status_code}")
        return response.content

    def _call(
        self, request: _Request, attempt: Callable[[], Any], *, notes: list[str] | None = None
    ) -> Any:
        """One request (the session retries); every failure becomes a ``SignalError``.

        ``notes`` receives the answer's ``warnings`` (the caller decides what
        a warned answer is worth); its ``infos`` are logged.
        """
        # An answer of an earlier request must never be reported as this one's.
        self._last_response.value = None
        try:
            data = attempt()
        except _UpstreamStatus as answer:
            raise self._error(request, status=answer.status, body=answer.body) from None
        except requests.ConnectionError as failure:
            raise self._error(request, reason=f"cannot reach {self.url}: {failure}") from failure
        except requests.Timeout as failure:
            # A read timeout: the query was too slow; asking again would be as slow.
            raise self._error(
                request, reason=f"no answer within {self._timeout:g} s: {failure}"
            ) from failure
        except PrometheusApiClientException as failure:
            # Only non-error statuses reach the library (a redirect that ended nowhere).
            response = getattr(self._last_response, "value", None)
            raise self._error(
                request,
                status=response.status_code if response is not None else None,
                body=response.text[:_BODY_LIMIT] if response is not None else "",
                reason=str(failure)[:300],
            ) from failure
        except (ValueError, KeyError, TypeError) as failure:
            response = getattr(self._last_response, "value", None)
            if response is None:  # it failed before anything was sent (e.g. encoding)
                raise self._error(
                    request, reason=f"request not sent: {failure!r:.300}"
                ) from failure
            body = response.text[:_BODY_LIMIT]
            raise self._error(
                request, status=200, body=body, reason=f"unreadable answer: {failure!r}"
            ) from failure
        if notes is not None:
            response = getattr(self._last_response, "value", None)
            notes.extend(warnings_of(response, source=self.url, query=request.query))
        return data

    def _error(
        self, request: _Request, *, status: int | None = None, body: str = "", reason: str = ""
    ) -> SignalError:
        return SignalError(
            backend=BACKEND,
            query=request.query,
            window=request.window,
            status=status,
            body=body,
            reason=reason or (_error_message(body) if body else ""),
        )

    def _check_response(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        self._last_response.value = response
        # Redirects pass: requests follows them and hooks the final answer too.
        if response.status_code >= 400:
            raise _UpstreamStatus(response.status_code, response.text[:_BODY_LIMIT])


def _seconds(value: float) -> str:
    """A timestamp or duration as Prometheus reads it: decimal seconds, ms precision."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def _error_message(body: str) -> str:
    """Prometheus' ``error`` field (``errorType: error``) when the body is its JSON."""
    try:
        decoded = json.loads(body)
    except ValueError:
        return ""
    if isinstance(decoded, dict) and isinstance(decoded.get("error"), str):
        kind = decoded.get("errorType")
        return f"{kind}: {decoded['error']}" if kind else str(decoded["error"])
    return ""
