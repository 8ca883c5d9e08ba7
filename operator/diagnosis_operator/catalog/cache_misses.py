"""Cache penetration: one client whose every request misses the cache.  Pure data.

A cache in front of a store answers a key it has seen; a request for a key no one
asked before (or one that exists neither in the cache nor in the store) goes through
to the store every time: "cache penetration" (requests for keys that exist neither
in the cache nor in the database reach the database on each request,
https://github.com/Snailclimb/JavaGuide/issues/610; an entity cache querying the
database for every wrong id, https://github.com/abpframework/abp/issues/22715;
caching origin misses against repeated requests for non-existing resources,
https://github.com/unkeyed/unkey/pull/264).  A client walking ids that do not
exist, or asking for a new key with every request (a crawler, a partner's sync),
drives the store's load in proportion to its own rate, whatever the others do.

The stores count the lookups that found nothing, and a request that misses raises
those counters by about one each:

* Redis ``INFO stats`` ``keyspace_misses``, "number of failed key lookups of keys in
  the main dictionary" (https://redis.io/docs/latest/commands/info/), exported as
  ``redis_keyspace_misses_total`` (https://github.com/oliver006/redis_exporter);
* MariaDB's ``Empty_queries``, "number of queries returning no results"
  (https://mariadb.com/kb/en/server-status-variables/#empty_queries), exported by
  mysqld_exporter as ``mysql_global_status_empty_queries``
  (https://github.com/prometheus/mysqld_exporter);
* memcached's ``get_misses``, "number of items that have been requested and not
  found" (https://github.com/memcached/memcached/blob/master/doc/protocol.txt),
  exported as ``memcached_commands_total{command="get",status="miss"}``
  (https://github.com/prometheus/memcached_exporter).

When one of these rises with a client that arrived at the same time (silent before,
as a new sync or crawler is), by about what that client sends per second while
everyone else sends no more than before, the client's requests are the misses: the
client is the cause (rate-limit it), the store only does what it is asked.
Ordinary clients that were there before (a store failing on its own, a cache
flushed for everyone) do not match: their traffic did not arrive with the rise.
"""

from __future__ import annotations

SOURCES: tuple[str, ...] = (
    "https://github.com/Snailclimb/JavaGuide/issues/610",
    "https://github.com/abpframework/abp/issues/22715",
    "https://github.com/unkeyed/unkey/pull/264",
    "https://redis.io/docs/latest/commands/info/",
    "https://mariadb.com/kb/en/server-status-variables/#empty_queries",
    "https://github.com/memcached/memcached/blob/master/doc/protocol.txt",
)

# A store's counter of lookups that found nothing: the metric and the labels it needs.
MISS_COUNTERS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("redis_keyspace_misses_total", ()),
    ("mysql_global_status_empty_queries", ()),
    ("memcached_commands_total", (("command", "get"), ("status", "miss"))),
)

# The counter's rise over the client's span must be at least this share of the
# client's requests per second (most of its requests missed) and at most this many
# times them (a request may look up a few keys; a rise far beyond is someone else's).
MISS_MATCH_LOW = 0.5
MISS_MATCH_HIGH = 5.0
# Everyone else, over the same span, sends at most this many times what they sent
# before (the added load is the new client's, not a busier day's).
OTHERS_MAX_GROWTH = 1.2
# The rise starts within this many steps of the client's arrival (either side).
MATCH_STEPS = 2
