"""What the collector asks Loki for: RE2 and Python ``re`` alike.  Pure.

The regular expressions the collector sends to Loki (``SIGNIFICANT_FILTER``,
``ACCESS_PATTERN``, ``FAILED_REQUEST_FILTER``) stay in the common subset of
RE2 and Python ``re``: no look-around, no back-references, named groups as
``(?P<name>...)``.
"""

from __future__ import annotations

# Lines worth reading: errors, warnings, slowness, locking, refused/timeouts, 5xx (an
# access line's status field, Traefik's ``DownstreamStatus`` among them), and a proxy
# saying it has no server left to send a request to: HAProxy's "backend X has no server
# available!" and its HTTP log's ``<NOSRV>`` server with a 5xx (its own answer, no server
# picked; https://docs.haproxy.org/2.8/configuration.html#8.2.3, ``catalog.modes_edge.
# NO_UPSTREAM_LEFT``).
SIGNIFICANT_FILTER = (
    r"(?i)(error|fatal|panic|exception|fail|deadlock|too many connections|timeout|timed out"
    r"|refused|denied|slow|query_time|warn|lost connection|connection lost|reset by peer"
    r"|broken pipe|unavailable|out of memory|oom|killed|\[(emerg|alert|crit)\]"
    r"|\" 5[0-9][0-9] "
    r"|\"(status|code|status_code|response_code|downstreamstatus)\" *: *\"?5[0-9][0-9]"
    r"|(^| )(status|code|status_code)=\"?5[0-9][0-9]( |\"|$)"
    r"|has no server available|/<nosrv> [-+0-9/]+ 5[0-9][0-9] )"
)
# Access lines whose response is a server error or a throttle (a client retrying).
FAILED_REQUEST_FILTER = (
    r"(\" (5[0-9][0-9]|429) |\"(status|code|status_code|response_code)\" *: *\"?(5[0-9][0-9]|429)"
    r"|(^| )(status|code|status_code)=\"?(5[0-9][0-9]|429)( |\"|$))"
)
# Client address, request and user agent of an access line: combined-style text
# (nginx, ingress-nginx, Apache), a JSON object with the usual field names (and
# Traefik's ``ClientHost``: https://doc.traefik.io/traefik/observability/access-logs/),
# Envoy's default format, which opens with the time in brackets and names the
# client in the first quoted field after the status (X-Forwarded-For, whose
# first address is the original client), followed by the user agent, or any
# other text format that opens with the client's address and quotes the request
# line before its status (a custom nginx ``log_format``, Apache's common format:
# https://nginx.org/en/docs/http/ngx_http_log_module.html#log_format).
ACCESS_PATTERN = (
    r"^(?P<client>[0-9A-Fa-f.:]{3,45}) [^ ]+ [^ ]+ \[[^\]]*\] "
    r"\"(?P<request>[^\"]*)\" (?P<status>[0-9]{3}) [^ ]+ \"[^\"]*\" \"(?P<agent>[^\"]*)\""
    r"|\"(?:remote_addr|client_ip|clientip|remote_ip|client|src_ip|x_forwarded_for"
    r"|ClientHost)\" *: *"
    r"\"(?P<jclient>[0-9A-Fa-f.:]{3,45})"
    r"|^\[[^\]]*\] \"(?P<frequest>[^\"]*)\" [0-9]{3} [^\"]*"
    r"\"(?P<fclient>[0-9A-Fa-f.:]{3,45})(?:, *[^\"]*)?\" \"(?P<fagent>[^\"]*)\""
    r"|^(?P<tclient>[0-9A-Fa-f.:]{3,45}) [^\"]*\"(?P<trequest>[A-Z]{3,7} [^\"]*)\" [0-9]{3} "
)
# The client's network of an access line, in the same three forms: the first
# three octets of an IPv4 address with their dot ("203.0.113.") or the first
# four explicit hextets of an IPv6 address with their colon (a /64).  Counting
# by it sees a flood spread over one range, whose addresses are each too small
# for a per-address top list.  /24 and /64 are the broadest client rules allowed.
NETWORK_PATTERN = (
    r"^(?P<net>(?:[0-9]{1,3}\.){3}|(?:[0-9A-Fa-f]{1,4}:){4})[0-9A-Fa-f.:]* [^ ]+ [^ ]+ \["
    r"|\"(?:remote_addr|client_ip|clientip|remote_ip|client|src_ip|x_forwarded_for"
    r"|ClientHost)\" *: *"
    r"\"(?P<jnet>(?:[0-9]{1,3}\.){3}|(?:[0-9A-Fa-f]{1,4}:){4})[0-9A-Fa-f.:]*\""
    r"|^\[[^\]]*\] \"[^\"]*\" [0-9]{3} [^\"]*"
    r"\"(?P<fnet>(?:[0-9]{1,3}\.){3}|(?:[0-9A-Fa-f]{1,4}:){4})[0-9A-Fa-f.:]*(?:, *[^\"]*)?\" \""
    r"|^(?P<tnet>(?:[0-9]{1,3}\.){3}|(?:[0-9A-Fa-f]{1,4}:){4})[0-9A-Fa-f.:]* [^\"]*"
    r"\"[A-Z]{3,7} [^\"]*\" [0-9]{3} "
)
NETWORK_LABELS = ("net", "jnet", "fnet", "tnet")
# The groups of ACCESS_PATTERN naming the client, the request and the agent, per format.
CLIENT_LABELS = ("client", "jclient", "fclient", "tclient")
REQUEST_LABELS = ("request", "frequest", "trequest")
AGENT_LABELS = ("agent", "fagent")
RETRY_LABELS = (
    "client",
    "request",
    "agent",
    "fclient",
    "frequest",
    "fagent",
    "tclient",
    "trequest",
)
# Client address and user agent of an access line, to count requests per (address,
# agent): combined-style text (the agent is its last quoted field), a JSON object
# whose agent field follows the address (nginx's ``http_user_agent`` in a JSON
# ``log_format``; Traefik's ``request_User-Agent``, its JSON keys in sorted order:
# https://doc.traefik.io/traefik/observability/access-logs/#limiting-the-fieldsincluding-headers)
# and Envoy's default format.  Lines without an agent are not counted.
CLIENT_AGENT_PATTERN = (
    r"^(?P<client>[0-9A-Fa-f.:]{3,45}) [^ ]+ [^ ]+ \[[^\]]*\] "
    r"\"[^\"]*\" [0-9]{3} [^ ]+ \"[^\"]*\" \"(?P<agent>[^\"]*)\""
    r"|\"(?:remote_addr|client_ip|clientip|remote_ip|client|src_ip|x_forwarded_for"
    r"|ClientHost)\" *: *\"(?P<jclient>[0-9A-Fa-f.:]{3,45})\".*"
    r"\"(?:http_user_agent|user_agent|useragent|agent|request_User-Agent)\" *: *"
    r"\"(?P<jagent>[^\"]*)\""
    r"|^\[[^\]]*\] \"[^\"]*\" [0-9]{3} [^\"]*"
    r"\"(?P<fclient>[0-9A-Fa-f.:]{3,45})(?:, *[^\"]*)?\" \"(?P<fagent>[^\"]*)\""
)
CLIENT_AGENT_LABELS = ("client", "jclient", "fclient", "agent", "jagent", "fagent")
CLIENT_AGENT_AGENTS = ("agent", "jagent", "fagent")
