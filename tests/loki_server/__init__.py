"""A Loki test server: Loki's HTTP API and the LogQL subset the operator uses.

Run it with ``python -m tests.loki_server --port N``; tests start it in-process
through ``tests/services/loki.py``.  It is a test double of Grafana Loki that
speaks the documented API with Loki's response and error shapes, not a copy of
Loki: storage is in memory and only JSON pushes are accepted.
"""

from tests.loki_server.server import LokiHTTPServer, serve_in_thread

__all__ = ["LokiHTTPServer", "serve_in_thread"]
