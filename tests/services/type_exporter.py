"""What Prometheus learns by scraping: the ``# TYPE`` of a bundle's families (test service).

Backfilled blocks hold samples only; a Prometheus that scrapes the exporters
keeps each family's declared type as metadata (``/api/v1/metadata``), which the
live source reads.  This loopback endpoint exposes every family of a bundle
with its declared type and one zero sample, so the replayed Prometheus knows
the types a scraping one would.  Its series carry only ``job="bundle-types"``
and an ``instance``: no component selector of a bundle matches them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.services.ports import LOOPBACK

JOB = "bundle-types"
_SAMPLES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ('_bucket{le="+Inf"}', "_count", "_sum"),
    "summary": ("_count", "_sum"),
}
CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def declared_types(openmetrics: Path) -> dict[str, str]:
    """``{family: type}`` of the ``# TYPE`` lines of an OpenMetrics file (test helper)."""
    types: dict[str, str] = {}
    with openmetrics.open(encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("# TYPE "):
                parts = line.split()
                if len(parts) == 4 and parts[3] in _SAMPLES:
                    types.setdefault(parts[2], parts[3])
    return types


def exposition(types: dict[str, str]) -> str:
    """OpenMetrics text declaring every family, with one zero sample each."""
    out: list[str] = []
    for family, kind in sorted(types.items()):
        out.append(f"# TYPE {family} {kind}")
        out.extend(f"{family}{suffix} 0" for suffix in _SAMPLES[kind])
    out.append("# EOF")
    return "\n".join(out) + "\n"


@contextmanager
def type_exporter(openmetrics: Path) -> Iterator[str]:
    """Serve the families' types on 127.0.0.1; yields ``host:port`` to scrape."""
    body = exposition(declared_types(openmetrics)).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            return

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
