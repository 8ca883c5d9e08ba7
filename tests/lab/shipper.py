"""The lab's log shipper: tail real log files, push their lines to Loki.

    python -m tests.lab.shipper --config shipper.json

``shipper.json``: ``{"loki": URL, "tenant": T | null, "files": [{"path": P,
"labels": {...}, "multiline": "mysql-slow" | null}]}``.  Like promtail, each file is
read from its start (or from where it was when the shipper started, with
``"fromEnd": true``), new lines are stamped with the time they were read and pushed
every ``--interval`` seconds through ``POST /loki/api/v1/push`` (the adapter's
``LokiClient.push``).  A MariaDB slow-log entry (``# Time:`` / ``# User@Host:``
header, then its statement) and an error-log entry with its continuation lines
(InnoDB's deadlock dumps) are each joined into one entry with ``\\n``
(``"multiline": "mysql-slow"`` / ``"mariadb-error"``).  A file that
does not exist yet is waited for; one that shrinks is read again from its start.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diagnosis_operator.adapters.loki import LokiClient
from diagnosis_operator.models.signals import Labels, LogLine, LogStream

MAX_LINE_BYTES = 16 << 10
_DATED = re.compile(r"^\d{4}-\d{2}-\d{2} ")
MAX_LINES_PER_PUSH = 20_000


@dataclass
class Tail:
    """One followed file: where it was read to, and a slow-log entry being joined."""

    path: Path
    labels: Labels
    multiline: str | None = None
    offset: int = 0
    partial: bytes = b""
    pending: list[str] = field(default_factory=list)

    def read(self, now: float) -> list[LogLine]:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        if size < self.offset:
            self.offset, self.partial = 0, b""
        if size == self.offset:
            return self._flush(now) if self.pending else []
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read(min(size - self.offset, 8 << 20))
        self.offset += len(data)
        *complete, self.partial = (self.partial + data).split(b"\n")
        texts = [raw[:MAX_LINE_BYTES].decode("utf-8", "replace") for raw in complete]
        if self.multiline == "mysql-slow":
            return self._join_slow(texts, now)
        if self.multiline == "mariadb-error":
            return self._join_error(texts, now)
        return [LogLine(ts=now, line=text) for text in texts if text.strip()]

    def _join_slow(self, texts: list[str], now: float) -> list[LogLine]:
        out: list[LogLine] = []
        for text in texts:
            starts = text.startswith("# Time:") or (
                text.startswith("# User@Host:")
                and not (self.pending and self.pending[-1].startswith("# Time:"))
            )
            if starts and self.pending:
                out.extend(self._flush(now))
            if text.strip():
                self.pending.append(text)
        return out

    def _join_error(self, texts: list[str], now: float) -> list[LogLine]:
        # An entry opens with its date; InnoDB's dumps (deadlocks) continue it.
        out: list[LogLine] = []
        for text in texts:
            if _DATED.match(text) and self.pending:
                out.extend(self._flush(now))
            if text.strip():
                self.pending.append(text)
        return out

    def _flush(self, now: float) -> list[LogLine]:
        entry = "\n".join(self.pending)
        self.pending = []
        # The slow log's own banner lines (before its first entry) are not entries.
        if self.multiline == "mysql-slow" and not entry.startswith(("# Time:", "# User@Host:")):
            return []
        return [LogLine(ts=now, line=entry)] if entry else []


def start_tail(spec: dict[str, Any]) -> Tail:
    tail = Tail(
        path=Path(spec["path"]),
        labels=Labels(spec["labels"]),
        multiline=spec.get("multiline"),
    )
    if spec.get("fromEnd") and tail.path.exists():
        tail.offset = tail.path.stat().st_size
    return tail


def ship_once(client: LokiClient, tails: list[Tail]) -> int:
    """Read every file once and push what is new; the lines sent."""
    now = time.time()
    streams = []
    for tail in tails:
        lines = tail.read(now)[:MAX_LINES_PER_PUSH]
        # Strictly increasing within a stream, as Loki orders entries.
        stamped = tuple(
            LogLine(ts=line.ts + index * 1e-6, line=line.line) for index, line in enumerate(lines)
        )
        if stamped:
            streams.append(LogStream(labels=tail.labels, lines=stamped))
    return client.push(streams) if streams else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="tail log files into Loki's push API")
    parser.add_argument("--config", required=True)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args(argv)
    config = json.loads(Path(args.config).read_text(encoding="utf-8"))
    client = LokiClient(config["loki"], tenant=config.get("tenant"), retries=2, timeout=10.0)
    tails = [start_tail(spec) for spec in config["files"]]
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        try:
            ship_once(client, tails)
        except Exception as error:  # a failed push is retried with the next round
            print(f"shipper: push failed: {error}", file=sys.stderr, flush=True)
        time.sleep(args.interval)
    ship_once(client, tails)
    client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
