"""What a route that stopped being served looks like: statuses, signal, reload lines.

Pure data (see ``core.diagnosis.route_refusals``).

A 4xx is normally the client's own error (RFC 9110 section 15.5: "the client seems to
have erred", https://www.rfc-editor.org/rfc/rfc9110#section-15.5).  But 404 says the
server "did not find a current representation for the target resource" (section 15.5.5),
405 that the method is not supported by the target (15.5.6), 410 that it is gone
(15.5.11), 421 that the request reached a server not configured for it (15.5.20), 400
that the request as received is malformed (15.5.1): a resource that every client had
been served a moment ago and that every one of them is now refused was not lost by the
clients, it was moved by the server side.  Its usual cause is a routing or rewrite
change at the edge: with a URI part in nginx's ``proxy_pass`` "the part of a normalized
request URI matching the location is replaced by a URI specified in the directive"
(https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_pass), so a trailing
slash added to ``proxy_pass http://api/;`` sends ``/api/items?id=3`` upstream as
``/?id=3`` (owntracks/frontend#63, GSA/catalog.data.gov#709,
home-assistant/home-assistant.io#5439); a ``rewrite``, an Envoy route's
``prefix_rewrite`` or a Traefik ``StripPrefix`` middleware do the same.

401 and 403 are left out: a refused credential is judged by ``catalog.gate``'s
``AUTH_REFUSAL_LINES`` (a key rotation refuses every client at once and is still their
own to renew); so are 429 (a rate limiter: ``catalog.modes_edge``) and nginx's 499 (the
client hung up: no answer at all).
"""

from __future__ import annotations

RFC_9110_4XX = "https://www.rfc-editor.org/rfc/rfc9110#section-15.5"
NGINX_URI_REPLACEMENT = "https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_pass"
NGINX_REWRITE = "https://nginx.org/en/docs/http/ngx_http_rewrite_module.html#rewrite"
NGINX_CONTROL = "https://nginx.org/en/docs/control.html"
ENVOY_PREFIX_REWRITE = (
    "https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/"
    "route_components.proto#envoy-v3-api-field-config-route-v3-routeaction-prefix-rewrite"
)
TRAEFIK_STRIPPREFIX = "https://doc.traefik.io/traefik/middlewares/http/stripprefix/"

# The statuses that say the target as received is not there (or not accepted as sent).
ROUTE_LOST_STATUSES: frozenset[int] = frozenset({400, 404, 405, 410, 421})

# The signal ``core.diagnosis.route_refusals`` derives from a component's access lines:
# the share of the requests to its served routes answered with one of those statuses.
ROUTE_REFUSAL_SIGNAL = "access lines served routes 4xx ratio"
ROUTE_REFUSAL_METRIC = r"^access lines served routes 4xx ratio$"

# A proxy taking a new configuration: nginx on ``SIGHUP`` ("signal 1 (SIGHUP) received
# ..., reconfiguring", the old workers "gracefully shutting down":
# https://nginx.org/en/docs/control.html "Changing Configuration"), ingress-nginx's
# controller ("Backend successfully reloaded"), Traefik's provider ("Configuration
# loaded from ..."), Envoy's xDS ("lds: add/update listener", "cds: add ... cluster"),
# HAProxy's master ("Reexecuting Master process").
CONFIG_RELOAD_LINES: tuple[str, ...] = (
    r"signal 1 \(SIGHUP\) received",
    r"\breconfiguring\b",
    r"\bgracefully shutting down\b",
    r"backend successfully reloaded",
    r"configuration loaded from",
    r"\blds: add/update listener\b",
    r"\bcds: add \d+ cluster",
    r"reexecuting master process",
)

# The LogQL ``regexp`` patterns of an edge's access lines (``service.edge_queries``),
# in the access formats ``core.diagnosis.logs.patterns.ACCESS_PATTERN`` reads: the route
# (a path's first two segments) and the status of every request; and, among the refused
# requests only (``ROUTE_LOST_FILTER``), the route and the client.  Text formats
# (combined, Envoy's default) quote the request line before the status; nginx's JSON
# ``log_format`` names the request line ``request`` and the status ``status``; Traefik's
# JSON (its keys in alphabetical order) ``DownstreamStatus`` before ``RequestPath``.
_ROUTE = r"/[^/?#\" ]*(?:/[^/?#\" ]*)?"
_LOST = "|".join(str(s) for s in sorted(ROUTE_LOST_STATUSES))
ROUTE_STATUS_PATTERN = (
    rf"\"[A-Z]{{3,7}} (?P<route>{_ROUTE})[^\"]*\"(?: (?P<status>[0-9]{{3}}) "
    r"|.*?\"(?:status|code|status_code|response_code)\" *: *\"?(?P<jstatus>[0-9]{3}))"
    r"|\"DownstreamStatus\" *: *(?P<tstatus>[0-9]{3}).*?\"RequestPath\" *: *"
    rf"\"(?P<troute>{_ROUTE})"
)
ROUTE_STATUS_LABELS = ("route", "troute", "status", "jstatus", "tstatus")
ROUTE_LOST_FILTER = (
    rf"(\" ({_LOST}) |\"(status|code|status_code|response_code|DownstreamStatus)\" *: *\"?"
    rf"({_LOST})([^0-9]|$))"
)
_CLIENT = r"[0-9A-Fa-f.:]{3,45}"
ROUTE_CLIENT_PATTERN = (
    rf"^(?P<client>{_CLIENT}) [^\"]*\"[A-Z]{{3,7}} (?P<route>{_ROUTE})"
    r"|\"(?:remote_addr|client_ip|clientip|remote_ip|client|src_ip|x_forwarded_for|ClientHost)\""
    rf" *: *\"(?P<jclient>{_CLIENT})\".*?\"[A-Z]{{3,7}} (?P<jroute>{_ROUTE})"
    rf"|^\[[^\]]*\] \"[A-Z]{{3,7}} (?P<froute>{_ROUTE})[^\"]*\" [0-9]{{3}} [^\"]*"
    rf"\"(?P<fclient>{_CLIENT})"
    rf"|\"ClientHost\" *: *\"(?P<tclient>{_CLIENT})\".*?\"RequestPath\" *: *\"(?P<troute>{_ROUTE})"
)
ROUTE_CLIENT_LABELS = (
    "client",
    "jclient",
    "fclient",
    "tclient",
    "route",
    "jroute",
    "froute",
    "troute",
)

# The label naming the route (or path) of a request counter in the usual client
# libraries and exporters: prometheus/client_golang's promhttp and Prometheus' own
# ``handler``, Spring Boot's ``uri`` (http_server_requests_seconds), express-prom-bundle's
# and ingress-nginx's ``path``, ``route`` and ``endpoint`` in many others.  A backend whose
# own counter shows the very routes the edge's clients were refused answered with the same
# statuses refused them itself (its release, its configuration); one whose refusals are on
# routes nobody sent was sent other paths (the proxy rewrote them).
ROUTE_LABELS: tuple[str, ...] = ("route", "handler", "path", "uri", "endpoint", "url")

# A proxy's own access rules refusing a request: answered 403 by the proxy itself, the
# upstream never asked.  nginx's ``ngx_http_access_module`` ("deny": "access is denied",
# 403, logged at ``error`` as "access forbidden by rule, client: ...",
# https://nginx.org/en/docs/http/ngx_http_access_module.html); Envoy's RBAC filter (403,
# response code details ``rbac_access_denied_matched_policy[...]``,
# https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/rbac_filter);
# HAProxy's ``http-request deny`` (403 by default, logged with ``<NOSRV>`` and the
# termination state ``PR--``: "the proxy blocked the request",
# https://docs.haproxy.org/2.8/configuration.html#4.2-http-request%20deny and section
# 8.5); Traefik's ``IPAllowList`` middleware ("Forbidden", 403; "Rejecting IP" in its
# debug log, https://doc.traefik.io/traefik/middlewares/http/ipallowlist/).  Such a rule
# refusing one address or a few (a scanner, a banned client) is the rule working; the same
# refusals reaching most of the clients it served a moment ago (a CIDR typo: nginx warns
# "low address bits of ... are meaningless" and denies the whole range) are harm, and the
# proxy's configuration is the root (``core.diagnosis.rule_refusals``).  Its rate limits
# (``limit_req``, ``limit_conn``: 503 or 429) are judged by ``catalog.gate``'s
# ``RATE_LIMIT_LINES`` and the 429 ratio (``catalog.modes_edge``).
NGINX_ACCESS = "https://nginx.org/en/docs/http/ngx_http_access_module.html"
ENVOY_RBAC = (
    "https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/rbac_filter"
)
HAPROXY_DENY = "https://docs.haproxy.org/2.8/configuration.html#4.2-http-request%20deny"
TRAEFIK_IPALLOWLIST = "https://doc.traefik.io/traefik/middlewares/http/ipallowlist/"
RULE_REFUSAL_LINES: tuple[str, ...] = (
    r"\baccess forbidden by rule\b",
    r"\brbac_access_denied",
    r"/<NOSRV> [-0-9/]+ 403 .*\bPR--",
    r"\brejecting IP\b",
)
RULE_REFUSAL_STATUSES: frozenset[int] = frozenset({403})
RULE_REFUSAL_SIGNAL = "access lines served routes refused by its rules ratio"
RULE_REFUSAL_METRIC = r"^access lines served routes refused by its rules ratio$"
RULE_REFUSED_FILTER = (
    r"(\" 403 |\"(status|code|status_code|response_code|DownstreamStatus)\" *: *\"?403([^0-9]|$))"
)
# The share of the edge's clients (its busiest, ``service.edge_queries.CLIENT_TOP``) seen
# since the switch that the rule refused: a sizeable share is the population, not a few
# addresses.
RULE_CLIENT_SHARE = 0.5
