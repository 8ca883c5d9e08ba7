"""Many users behind one address (a NAT, a proxy): a crowd, not a flood.  Pure data.

One address is not one client: an office, a campus or a mobile carrier sends its
users' requests from one public address (carrier-grade and enterprise NAT: "a
single IP address is shared by many subscribers", so blocking or rate-limiting by
address "affects all the subscribers sharing it", RFC 6269 "Issues with IP Address
Sharing", https://www.rfc-editor.org/rfc/rfc6269#section-5.1).  A per-address rate
limit keyed on the remote address (Traefik's RateLimit middleware's
``sourceCriterion`` defaults to it,
https://doc.traefik.io/traefik/middlewares/http/ratelimit/#sourcecriterion) refuses
such an address as if it were one greedy client ("a group of users sharing the same
IP address ... frequently hit the rate limit",
https://github.com/nzin/traefik-cluster-ratelimit/issues/8).

Its requests look like the population's, only more of them: the same user agents as
everyone else, in several hands at once.  A bot flooding from one address sends one
agent (or a few of its own); a crawler rotating its agent on every request sends
agents no one else sends.  An address is a *crowd* when its requests are carried,
``CROWD_SHARED_SHARE`` of them or more, by agents that at least ``CROWD_MIN_PEERS``
other addresses also send (its requests whose agent was not counted count against
it), at least ``CROWD_MIN_AGENTS`` of them carrying ``CROWD_AGENT_MIN_SHARE`` of its
requests or more each (a long tail of rarer browsers is still the population's).
A crowd is not named a flooding client: when a limiter refuses it, the limiter is the
one misconfigured.
"""

from __future__ import annotations

SOURCES: tuple[str, ...] = (
    "https://www.rfc-editor.org/rfc/rfc6269#section-5.1",
    "https://doc.traefik.io/traefik/middlewares/http/ratelimit/#sourcecriterion",
    "https://github.com/nzin/traefik-cluster-ratelimit/issues/8",
    "https://github.com/traefik/traefik/issues/7129",
)

CROWD_MIN_AGENTS = 3
CROWD_AGENT_MIN_SHARE = 0.05
CROWD_MIN_PEERS = 2
CROWD_SHARED_SHARE = 0.8
