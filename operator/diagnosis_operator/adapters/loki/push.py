"""Pushing streams to Loki: ``POST /loki/api/v1/push``, gzipped JSON, in bounded batches."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Sequence

from diagnosis_operator.adapters.loki.http import LokiHTTP
from diagnosis_operator.adapters.loki.nanos import to_nanos
from diagnosis_operator.models.signals import LogLine, LogStream

# One push request carries at most about this many bytes of log lines.
PUSH_BATCH_BYTES = 1 << 20


def push_streams(http: LokiHTTP, streams: Sequence[LogStream]) -> int:
    """Push ``streams`` in batches of about ``PUSH_BATCH_BYTES``; returns the lines sent."""
    sent = 0
    for batch in push_batches(streams, max_bytes=PUSH_BATCH_BYTES):
        payload = {
            "streams": [
                {
                    "stream": dict(stream.labels),
                    "values": [[str(to_nanos(line.ts)), line.line] for line in stream.lines],
                }
                for stream in batch
            ]
        }
        body = gzip.compress(json.dumps(payload, ensure_ascii=False).encode("utf-8"))
        lines = sum(len(stream.lines) for stream in batch)
        http.request(
            "POST",
            "/loki/api/v1/push",
            query=f"push of {lines} lines in {len(batch)} streams",
            window=None,
            data=body,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
        sent += lines
    return sent


def push_batches(streams: Sequence[LogStream], *, max_bytes: int) -> Iterable[list[LogStream]]:
    """``streams`` cut into batches of at most about ``max_bytes`` of lines.  Pure."""
    batch: list[LogStream] = []
    size = 0
    for stream in streams:
        if not stream.labels:
            raise ValueError("a pushed stream needs at least one label")
        chunk: list[LogLine] = []
        for line in stream.lines:
            cost = len(line.line.encode("utf-8")) + 32
            if size + cost > max_bytes and (chunk or batch):
                if chunk:
                    batch.append(LogStream(labels=stream.labels, lines=tuple(chunk)))
                yield batch
                batch, chunk, size = [], [], 0
            chunk.append(line)
            size += cost
        if chunk:
            batch.append(LogStream(labels=stream.labels, lines=tuple(chunk)))
    if batch:
        yield batch
