"""``python -m tests.lab up``: start the lab with steady user traffic until Ctrl-C.

    python -m tests.lab up --workdir out/lab --minutes 30

It prints the URLs (Prometheus, Alertmanager, Loki, nginx) and writes
``WORKDIR/lab.json``, which ``python -m tests.lab.fault NAME --workdir WORKDIR``
reads to inject a fault.  Every process is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path

from tests.lab import traffic
from tests.lab.stack import start_lab


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the lab: real services on loopback")
    actions = parser.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="start the stack and user traffic until Ctrl-C")
    up.add_argument("--workdir", type=Path, default=Path("out/lab"))
    up.add_argument("--minutes", type=float, default=30.0, help="stop after this long")
    up.add_argument("--rate", type=float, default=3.0, help="requests per second per user")
    up.add_argument("--webhook", help="Alertmanager's receiver (default: a sink file)")
    args = parser.parse_args(argv)
    lab = start_lab(workdir=args.workdir.resolve(), webhook_url=args.webhook)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        print(json.dumps({k: v for k, v in lab.state.items() if k != "mariadb"}, indent=1))
        print(f"state: {args.workdir / 'lab.json'}; Ctrl-C stops the lab", flush=True)
        traffic.users(lab.nginx.url, seconds=args.minutes * 60, rate=args.rate, stop=stop)
    finally:
        lab.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
