"""Access lines (combined text, JSON, Envoy): client, request, status, latency.  Pure."""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from diagnosis_operator.core.diagnosis.logs._fields import (
    IP,
    first_field,
    json_object,
    logfmt_object,
    split_request,
    to_seconds,
)
from diagnosis_operator.core.diagnosis.logs.model import AccessRecord, LogCategory, LogEvent

_ACCESS_TEXT = re.compile(
    r"^(?P<client>[0-9A-Fa-f.:]{3,45}) \S+ \S+ \[[^\]]*\] \"(?P<request>[^\"]*)\" "
    r"(?P<status>\d{3}) "
    r"\S+(?: \"[^\"]*\" \"(?P<agent>[^\"]*)\")?"
)
_LATENCY_FIELD = re.compile(
    r"\b(?:rt|request_time|upstream_response_time|urt|upstream_time|latency|duration|elapsed|response_time)"
    r"[\"']?\s*[:=]\s*\"?(\d+(?:\.\d+)?)\s*(ms|s)?",
    re.IGNORECASE,
)
_UPSTREAM_FIELD = re.compile(
    r"(?:upstream(?:_addr)?|ua|backend|upstream_host)[\"']?\s*[:=]\s*\"?(?:https?://)?"
    r"([\w.-]+:\d{2,5}|" + IP + r")",
    re.IGNORECASE,
)
_HOST_PORT = re.compile(rf"\b({IP}:\d{{2,5}})\b")
# The next address of a list of tried upstreams: ", " between the servers of one
# group, " : " before those of another group after an internal redirect
# (https://nginx.org/en/docs/http/ngx_http_upstream_module.html#var_upstream_addr).
_NEXT_UPSTREAM = re.compile(r"(?:,\s*| : )(?:https?://)?([\w.-]+:\d{2,5}|" + IP + r")")
# Traefik's JSON access log names the client ``ClientHost``, the status it answered
# ``DownstreamStatus`` (``OriginStatus``: the service's, 0 when none answered), the
# request ``RequestMethod``/``RequestPath``, the server it reached ``ServiceURL`` (empty
# when a middleware answered, a rate limit's 429 among them) and ``Duration`` in
# nanoseconds (https://doc.traefik.io/traefik/observability/access-logs/#json-format).
# HAProxy's JSON log-format commonly names the request line ``http_request`` (%r).
_JSON_CLIENT_KEYS = (
    "remote_addr",
    "client_ip",
    "clientip",
    "remote_ip",
    "client",
    "src_ip",
    "ip",
    "clienthost",
)
_JSON_STATUS_KEYS = ("status", "code", "status_code", "response_code", "downstreamstatus")
_JSON_AGENT_KEYS = ("http_user_agent", "user_agent", "agent", "ua", "request_user-agent")
_JSON_REQUEST_KEYS = ("request", "http_request")
_JSON_METHOD_KEYS = ("method", "request_method", "http_method", "requestmethod")
_JSON_PATH_KEYS = ("path", "uri", "request_uri", "url", "route", "requestpath")
# Formats whose ``duration`` counts nanoseconds, known by a field of their own.
_NANOSECOND_DURATION_MARKERS = ("downstreamstatus",)
_NO_VALUE = ("", "-", "None", "null")
_JSON_UPSTREAM_KEYS = ("upstream_addr", "upstream", "backend", "upstream_host", "serviceurl")
_JSON_LATENCY_KEYS = (
    "request_time",
    "upstream_response_time",
    "latency",
    "duration",
    "rt",
    "elapsed",
)


def parse_access(line: str) -> AccessRecord | None:
    """Pure: client, request, status, agent, latency and upstream of an access line."""
    obj = json_object(line)
    if obj is not None:
        return _parse_access_json(obj)
    match = _ACCESS_TEXT.search(line)
    if not match and (fields := logfmt_object(line)) is not None:
        return _parse_access_json(fields)
    if not match:
        return _parse_access_bracketed(line) or _parse_access_loose(line)
    method, path = split_request(match.group("request"))
    return AccessRecord(
        client=match.group("client"),
        method=method,
        path=path,
        status=int(match.group("status")),
        agent=match.group("agent"),
        latency=latency_of(line[match.end() :]),
        upstream=upstream_of(line[match.end() :], exclude=match.group("client")),
        upstreams=tried_upstreams(line[match.end() :]),
    )


_ACCESS_BRACKETED = re.compile(
    r"^\[[^\]]*\] \"(?P<request>[^\"]*)\" (?P<status>\d{3}) (?P<fields>[^\"]*)(?P<quoted>.*)$"
)
_QUOTED = re.compile(r"\"([^\"]*)\"")
_HOST_AND_PORT = re.compile(r"^\[?[\w.:-]+\]?:\d{2,5}$")


def _address_list_head(text: str) -> str | None:
    """The first address of an ``X-Forwarded-For``-like list, when it is an IP address."""
    head = text.split(",", 1)[0].strip()
    if "%" in head:  # an IPv6 zone index: ipaddress would keep any text after it
        return None
    try:
        ipaddress.ip_address(head)
    except ValueError:
        return None
    return head


def _parse_access_bracketed(line: str) -> AccessRecord | None:
    """Envoy-style access lines: ``[time] "request" status fields... "client" "agent" ...``.

    The client is the first quoted field after the status when it holds an IP
    address (Envoy's default puts X-Forwarded-For there), the agent the field
    after it, the upstream the last quoted ``host:port``, the latency the
    fourth field after the status (Envoy's total duration, in milliseconds)
    when it is a number.
    """
    match = _ACCESS_BRACKETED.match(line)
    if not match:
        return None
    quoted = _QUOTED.findall(match.group("quoted"))
    client = _address_list_head(quoted[0]) if quoted else None
    agent = quoted[1] if client is not None and len(quoted) > 1 else None
    upstream = next((field for field in reversed(quoted[1:]) if _HOST_AND_PORT.match(field)), None)
    fields = match.group("fields").split()
    latency = float(fields[3]) / 1000.0 if len(fields) >= 4 and fields[3].isdigit() else None
    method, path = split_request(match.group("request"))
    return AccessRecord(
        client=client,
        method=method,
        path=path,
        status=int(match.group("status")),
        agent=agent if agent not in (None, "-") else None,
        latency=latency,
        upstream=upstream,
    )


# Any other text format that opens with the client's address and quotes the
# request line before its status (``ACCESS_PATTERN``'s last form); the agent, when
# a field names it.
_ACCESS_LOOSE = re.compile(
    r"^(?P<client>[0-9A-Fa-f.:]{3,45}) [^\"]*\"(?P<request>[A-Z]{3,7} [^\"]*)\" (?P<status>\d{3}) "
)
_AGENT_FIELD = re.compile(r"\b(?:ua|agent|user_agent|http_user_agent)=\"([^\"]*)\"")


def _parse_access_loose(line: str) -> AccessRecord | None:
    match = _ACCESS_LOOSE.match(line)
    if not match or _address_list_head(match.group("client")) is None:
        return None
    rest = line[match.end() :]
    agent = _AGENT_FIELD.search(rest)
    method, path = split_request(match.group("request"))
    return AccessRecord(
        client=match.group("client"),
        method=method,
        path=path,
        status=int(match.group("status")),
        agent=agent.group(1) if agent and agent.group(1) != "-" else None,
        latency=latency_of(rest),
        upstream=upstream_of(rest, exclude=match.group("client")),
        upstreams=tried_upstreams(rest),
    )


def _parse_access_json(obj: Mapping[str, Any]) -> AccessRecord | None:
    client = first_field(obj, _JSON_CLIENT_KEYS)
    status = first_field(obj, _JSON_STATUS_KEYS)
    request = first_field(obj, _JSON_REQUEST_KEYS)
    method = first_field(obj, _JSON_METHOD_KEYS)
    path = first_field(obj, _JSON_PATH_KEYS)
    if request and not (method and path):
        method, path = split_request(str(request))
    if client is None and status is None:
        return None
    try:
        status_code = int(str(status)) if status is not None else None
    except ValueError:
        status_code = None
    latency = _json_latency(obj)
    upstream = first_field(obj, _JSON_UPSTREAM_KEYS)
    has_field = upstream is not None or any(str(k).lower() in _JSON_UPSTREAM_KEYS for k in obj)
    if str(upstream).strip() in _NO_VALUE:
        upstream = None  # nginx writes "-" when no upstream was reached
    tried = _address_list(str(upstream)) if upstream else ()
    if tried:
        upstream = tried[0]  # without its scheme (Traefik's ``ServiceURL``)
    agent = first_field(obj, _JSON_AGENT_KEYS)
    return AccessRecord(
        client=str(client) if client is not None else None,
        method=str(method) if method else None,
        path=str(path) if path else None,
        status=status_code,
        agent=str(agent) if agent is not None else None,
        latency=latency,
        upstream=str(upstream) if upstream else None,
        upstream_field=has_field,
        upstreams=tried if len(tried) > 1 else (),
    )


def _json_latency(obj: Mapping[str, Any]) -> float | None:
    """Seconds of a JSON access line's latency field (nanoseconds where the format says so)."""
    lowered = {str(key).lower(): value for key, value in obj.items()}
    key = next((k for k in _JSON_LATENCY_KEYS if lowered.get(k) not in (None, "")), None)
    if key is None:
        return None
    try:
        latency = float(lowered[key])
    except (TypeError, ValueError):
        return latency_of(f"latency={lowered[key]}")
    if key == "duration" and any(marker in lowered for marker in _NANOSECOND_DURATION_MARKERS):
        return latency / 1e9
    return latency


def latency_of(text: str) -> float | None:
    match = _LATENCY_FIELD.search(text)
    if not match:
        return None
    return to_seconds(float(match.group(1)), match.group(2))


def upstream_of(text: str, *, exclude: str | None) -> str | None:
    match = _UPSTREAM_FIELD.search(text)
    if match:
        return match.group(1)
    for candidate in _HOST_PORT.findall(text):
        if candidate != exclude:
            return str(candidate)
    return None


def tried_upstreams(text: str) -> tuple[str, ...]:
    """Pure: the upstreams an access line's upstream field lists, when it lists several.

    One address (or none) gives ``()``: ``upstream_of`` names it.
    """
    match = _UPSTREAM_FIELD.search(text)
    if not match:
        return ()
    tried = [match.group(1)]
    position = match.end()
    while (following := _NEXT_UPSTREAM.match(text, position)) is not None:
        tried.append(following.group(1))
        position = following.end()
    return tuple(tried) if len(tried) > 1 else ()


def _address_list(text: str) -> tuple[str, ...]:
    """The addresses of a JSON upstream field's value ("a:80, b:80 : c:80")."""
    return tuple(
        part.strip().removeprefix("http://").removeprefix("https://")
        for part in re.split(r",| : ", text)
        if part.strip() and part.strip() not in _NO_VALUE
    )


def upstream_errors(events: Iterable[LogEvent]) -> dict[str, list[LogEvent]]:
    """Pure: 5xx/timeout events of a proxy grouped by the upstream addresses they name.

    A request the proxy passed to several upstreams in turn, each failing it,
    is counted for each of them: it singles none of them out.
    """
    grouped: dict[str, list[LogEvent]] = defaultdict(list)
    for event in events:
        if (
            event.access is not None
            and event.access.upstream
            and event.category
            in (
                LogCategory.UPSTREAM_ERROR,
                LogCategory.TIMEOUT,
            )
        ):
            for address in event.access.upstreams or (event.access.upstream,):
                grouped[address].append(event)
    return dict(grouped)
