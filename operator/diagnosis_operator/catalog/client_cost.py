"""What a client costs the server, not only how often it asks.  Pure data.

A client's weight is the server time its requests take.  One address sending
no more requests than the busiest users can still take most of a service's
time: GraphQL queries nested many levels deep ("nesting lists increases work
exponentially", OWASP GraphQL Cheat Sheet, "Query Limiting"), a report export
that scans a year, or a slowloris client holding connections open with
requests it never finishes (nginx closes them after ``client_header_timeout``
with a 408, https://nginx.org/en/docs/http/ngx_http_core_module.html#client_header_timeout).
Counting requests misses them; counting the requests that held the server for
a second or more does not.

An access line says how long its request took, in the proxy's own field:

* nginx's ``$request_time`` and ``$upstream_response_time``, "in seconds with a
  milliseconds resolution" (https://nginx.org/en/docs/http/ngx_http_log_module.html#var_request_time,
  https://nginx.org/en/docs/http/ngx_http_upstream_module.html#var_upstream_response_time),
  in a JSON ``log_format`` or as ``rt=`` / ``urt=`` key-value pairs;
* ingress-nginx's default format, ``... "$http_user_agent" $request_length
  $request_time [$proxy_upstream_name] ...``
  (https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/log-format/);
* Envoy's default format, ``... %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED%
  %BYTES_SENT% %DURATION% ...``, the duration in milliseconds
  (https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage#default-format-string).

and how many bytes it sent the client: ``$body_bytes_sent`` right after the
status in the combined format and in ingress-nginx's, a ``body_bytes_sent`` /
``bytes_sent`` JSON field, Envoy's ``%BYTES_SENT%``.  A response of hundreds of
kilobytes is work (the server built it) and bandwidth.

``SLOW_REQUEST_FILTER`` keeps the lines whose request took ``SLOW_SECONDS`` (one
second) or more, ``BIG_RESPONSE_FILTER`` those that sent ``BIG_BYTES`` (100 kB)
or more, and ``HUGE_RESPONSE_FILTER`` those of ``HUGE_BYTES`` (10 MB) or more;
the collector counts each per client address
(``core.diagnosis.costly_clients`` reads the counts).  Each is a LogQL line
filter (RE2) and a Python regular expression alike.  When every request slows
down (a server stalled for everyone), every client's lines are slow alike and
none stands out; the one whose requests are big still does.
"""

from __future__ import annotations

SOURCES: tuple[str, ...] = (
    "https://cheatsheetseries.owasp.org/cheatsheets/GraphQL_Cheat_Sheet.html",
    "https://nginx.org/en/docs/http/ngx_http_log_module.html#var_request_time",
    "https://nginx.org/en/docs/http/ngx_http_upstream_module.html#var_upstream_response_time",
    "https://nginx.org/en/docs/http/ngx_http_core_module.html#client_header_timeout",
    "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/log-format/",
    "https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage",
    "https://google.aip.dev/158",
    "https://learn.microsoft.com/en-us/azure/architecture/antipatterns/noisy-neighbor/noisy-neighbor",
)

SLOW_SECONDS = 1.0
_SECONDS = r"[1-9][0-9]*(\.[0-9]+)?"  # one second or more, in seconds
SLOW_REQUEST_FILTER = (
    # nginx JSON log_format: "request_time":2.350 (or a string)
    r"\"(request_time|upstream_response_time)\" *: *\"?" + _SECONDS + r"(\"|,|}| |$)"
    # nginx key-value pairs: rt=2.350 urt="2.340"
    r"|(^| )(rt|request_time|urt|upstream_response_time)=\"?" + _SECONDS + r"(\"|,| |$)"
    # ingress-nginx: "agent" $request_length $request_time [$proxy_upstream_name]
    r"|\" [0-9]+ " + _SECONDS + r" \["
    # Envoy: [start] "request" code flags received sent duration(ms)
    r"|^\[[^\]]*\] \"[^\"]*\" [0-9]{3} [^ ]+ [0-9]+ [0-9]+ [1-9][0-9]{3,} "
)


def _bytes_filter(least: int) -> str:
    """The line filter keeping the answers of ``least`` bytes or more (a power of ten)."""
    digits = len(str(least)) - 1
    size = f"[1-9][0-9]{{{digits},}}"
    return (
        # combined and ingress-nginx: "$request" $status $body_bytes_sent
        r"\" [0-9]{3} " + size + r" "
        # nginx JSON log_format
        r"|\"(body_bytes_sent|bytes_sent)\" *: *\"?" + size + r"(\"|,|}| |$)"
        # Envoy: [start] "request" code flags received sent
        r"|^\[[^\]]*\] \"[^\"]*\" [0-9]{3} [^ ]+ [0-9]+ " + size + r" "
    )


BIG_BYTES = 100_000
BIG_RESPONSE_FILTER = _bytes_filter(BIG_BYTES)
# A hundred times bigger: a whole table in one answer (a page size the server did
# not cap, "servers must cap page_size", Google AIP-158; an export of everything).
# Where ordinary answers are big already (listings of a few hundred kB), the
# client taking most of the huge ones is the one whose every request costs the
# server, its database and the network a hundred times an ordinary one (Azure's
# "Noisy Neighbor antipattern": one tenant's heavy use degrades everyone).
HUGE_BYTES = 10_000_000
HUGE_RESPONSE_FILTER = _bytes_filter(HUGE_BYTES)

# A costly client: at least this share of the edge's slow requests, at least
# this many times its share of all requests (everyone's requests slowing alike
# is no one client's cost), and at least this many slow requests.
COSTLY_MIN_SHARE = 0.5
COSTLY_SHARE_RATIO = 3.0
COSTLY_MIN_REQUESTS = 20
# ... and new: before its costly span it took at most this share of the slow
# requests per step it took during it (it arrived with its cost, or its cost did).
COSTLY_QUIET_BEFORE = 0.1
