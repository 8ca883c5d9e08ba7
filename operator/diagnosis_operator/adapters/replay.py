"""Replay an incident bundle into a real Prometheus TSDB and a Loki.

* metrics: ``promtool tsdb create-blocks-from openmetrics metrics.om DIR``
  writes TSDB blocks that a Prometheus started on ``DIR`` loads;
* logs: the bundle's streams are pushed through ``LokiClient.push``
  (``POST /loki/api/v1/push``) in batches, with progress.

Afterwards the operator can diagnose the incident live, through PromQL and
LogQL, and must reach the same diagnosis as ``diagnose --bundle``.

Prometheus deletes blocks older than "newest block - retention"; a replayed
incident is usually older than the default 15 days, hence the long retention
in the suggested command.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from diagnosis_operator.adapters.bundle import load_bundle
from diagnosis_operator.adapters.loki import LokiClient
from diagnosis_operator.models.bundle import LOGS_FILE, METRICS_FILE, Bundle, StoredStream
from diagnosis_operator.models.signals import Labels, LogLine, LogStream, Window

Progress = Callable[[str], None]

RETENTION = "100y"
DEFAULT_PUSH_BATCH_LINES = 5000
_CONFIG_NAME = "replay-prometheus.yml"
_PROMETHEUS_CONFIG = """\
# Written by `diagnosis-operator replay`: no scrape jobs, the TSDB holds the
# replayed incident only.
global:
  scrape_interval: 15s
"""


class ReplayError(RuntimeError):
    """A replay step failed; the message says which step and what the tool answered."""


@dataclass(frozen=True, slots=True)
class BackfillResult:
    data_dir: Path
    config_file: Path
    blocks: tuple[str, ...]
    promtool_output: str


@dataclass(frozen=True, slots=True)
class ReplayResult:
    bundle: str
    window: Window
    backfill: BackfillResult | None
    loki_url: str | None
    lines_pushed: int
    streams_pushed: int

    def prometheus_command(self, *, listen: str = "127.0.0.1:9090") -> list[str] | None:
        if self.backfill is None:
            return None
        return prometheus_command(
            data_dir=self.backfill.data_dir, config_file=self.backfill.config_file, listen=listen
        )


def prometheus_command(*, data_dir: Path, config_file: Path, listen: str) -> list[str]:
    """The command that starts Prometheus on a replayed TSDB (and keeps the old blocks)."""
    return [
        "prometheus",
        f"--config.file={config_file}",
        f"--storage.tsdb.path={data_dir}",
        f"--storage.tsdb.retention.time={RETENTION}",
        f"--web.listen-address={listen}",
    ]


def find_promtool(promtool: str | None) -> str:
    """The promtool to run: the given path or name, else ``promtool`` on PATH."""
    name = promtool or "promtool"
    found = shutil.which(name)
    if found is None:
        raise ReplayError(
            f"promtool not found ({name!r}): install Prometheus' promtool or pass --promtool PATH"
        )
    return found


def _blocks_in(data_dir: Path) -> set[str]:
    return {entry.name for entry in data_dir.iterdir() if (entry / "meta.json").is_file()}


def backfill_metrics(
    *,
    metrics_file: Path,
    data_dir: Path,
    promtool: str,
    append: bool = False,
    max_block_duration: str | None = None,
    progress: Progress | None = None,
    timeout: float = 3600.0,
) -> BackfillResult:
    """Write TSDB blocks for ``metrics_file`` into ``data_dir`` with promtool.

    ``data_dir`` must be empty unless ``append``: blocks written twice would
    be merged by Prometheus, but a stray old block would silently mix two
    incidents.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    existing = {entry.name for entry in data_dir.iterdir() if entry.name != _CONFIG_NAME}
    if existing and not append:
        raise ReplayError(
            f"{data_dir} is not empty ({', '.join(sorted(existing)[:5])}...): choose an empty "
            "--prometheus-data folder or pass --append to add blocks to it"
        )
    before = _blocks_in(data_dir)
    command = [promtool, "tsdb", "create-blocks-from", "openmetrics"]
    if max_block_duration:
        command.append(f"--max-block-duration={max_block_duration}")
    command += [str(metrics_file), str(data_dir)]
    if progress:
        progress("backfilling metrics: " + shlex.join(command))
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as failure:
        raise ReplayError(f"{shlex.join(command)} failed: {failure}") from failure
    output = (completed.stdout + completed.stderr).strip()
    if completed.returncode != 0:
        raise ReplayError(
            f"promtool could not backfill {metrics_file} (exit {completed.returncode}):\n{output}"
        )
    blocks = tuple(sorted(_blocks_in(data_dir) - before))
    if not blocks:
        raise ReplayError(f"promtool wrote no block from {metrics_file}:\n{output}")
    config_file = data_dir / _CONFIG_NAME
    config_file.write_text(_PROMETHEUS_CONFIG)
    if progress:
        progress(f"wrote {len(blocks)} TSDB block(s) into {data_dir}")
    return BackfillResult(
        data_dir=data_dir, config_file=config_file, blocks=blocks, promtool_output=output
    )


def log_batches(
    streams: Sequence[StoredStream], *, batch_lines: int = DEFAULT_PUSH_BATCH_LINES
) -> Iterator[list[LogStream]]:
    """Pure.  The bundle's streams as push batches of at most ``batch_lines`` lines each."""
    if batch_lines < 1:
        raise ValueError(f"batch_lines must be at least 1, got {batch_lines}")
    batch: list[LogStream] = []
    room = batch_lines
    for stream in streams:
        labels = Labels(stream.labels)
        start = 0
        total = len(stream.lines)
        while start < total:
            take = min(room, total - start)
            lines = tuple(
                LogLine(ts=int(stream.timestamps_ns[index]) / 1e9, line=stream.lines[index])
                for index in range(start, start + take)
            )
            batch.append(LogStream(labels=labels, lines=lines))
            start += take
            room -= take
            if room == 0:
                yield batch
                batch, room = [], batch_lines
    if batch:
        yield batch


def push_logs(
    *,
    bundle: Bundle,
    client: LokiClient,
    batch_lines: int = DEFAULT_PUSH_BATCH_LINES,
    progress: Progress | None = None,
) -> tuple[int, int]:
    """Push every stream of ``bundle``; returns (lines, streams) pushed."""
    total = sum(len(stream) for stream in bundle.streams)
    pushed = 0
    for batch in log_batches(bundle.streams, batch_lines=batch_lines):
        pushed += client.push(batch)
        if progress:
            progress(f"pushed {pushed}/{total} log lines to {client.url}")
    return pushed, len(bundle.streams)


def replay_bundle(  # noqa: PLR0913 (the CLI's options, keyword-only)
    *,
    bundle_dir: Path,
    prometheus_data: Path | None = None,
    promtool: str | None = None,
    loki_url: str | None = None,
    loki_tenant: str | None = None,
    append: bool = False,
    max_block_duration: str | None = None,
    batch_lines: int = DEFAULT_PUSH_BATCH_LINES,
    progress: Progress | None = None,
) -> ReplayResult:
    """Load (and so validate) the bundle, backfill its metrics, push its logs."""
    bundle = load_bundle(bundle_dir)
    backfill: BackfillResult | None = None
    metrics_file = bundle_dir / METRICS_FILE
    if metrics_file.is_file():
        data_dir = prometheus_data or Path(
            tempfile.mkdtemp(prefix=f"replay-{_safe_name(bundle.name)}-")
        )
        try:
            backfill = backfill_metrics(
                metrics_file=metrics_file,
                data_dir=data_dir,
                promtool=find_promtool(promtool),
                append=append,
                max_block_duration=max_block_duration,
                progress=progress,
            )
        except BaseException:
            if prometheus_data is None:  # a folder of our own making: nothing half-made stays
                shutil.rmtree(data_dir, ignore_errors=True)
            raise
    elif progress:
        progress(f"no {METRICS_FILE} in the bundle: nothing to backfill")

    lines = streams = 0
    if loki_url:
        if bundle.streams:
            client = LokiClient(loki_url, tenant=loki_tenant)
            try:
                lines, streams = push_logs(
                    bundle=bundle, client=client, batch_lines=batch_lines, progress=progress
                )
            finally:
                client.close()
        elif progress:
            progress(f"no log lines in the bundle ({LOGS_FILE}): nothing to push")
    elif bundle.streams and progress:
        progress("no --loki-url: logs not pushed")
    return ReplayResult(
        bundle=bundle.name,
        window=bundle.window,
        backfill=backfill,
        loki_url=loki_url,
        lines_pushed=lines,
        streams_pushed=streams,
    )


def _safe_name(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)
    return cleaned[:40] or "bundle"
