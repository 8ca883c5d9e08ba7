"""Small hand-written bundles for the loader and source tests."""

from __future__ import annotations

import json
from pathlib import Path

INCIDENT = """\
format: incident-bundle/v1
name: tiny
window:
  start: "2025-01-01T00:10:00Z"
  end: "2025-01-01T00:20:00Z"
topology:
  components:
    - name: web
      kind: proxy
      selector: {job: web}
      dependsOn: [db]
    - name: db
      kind: mysql
      selector: {job: db}
"""
T0 = 1735689600  # 2025-01-01T00:00:00Z

METRICS = f"""\
# HELP up Whether the target is up.
# TYPE up gauge
up{{job="web",instance="w1"}} 1 {T0 + 600}
up{{job="web",instance="w1"}} 1 {T0 + 615}
up{{job="db",instance="d1"}} 1 {T0 + 600}
# EOF
"""


def entry(ts: str, labels: dict[str, str], line: str) -> str:
    return json.dumps({"ts": ts, "labels": labels, "line": line})


LOGS = (
    "\n".join(
        [
            entry("2025-01-01T00:11:00Z", {"job": "web", "instance": "w1"}, "GET / 200"),
            entry("2025-01-01T00:12:00.5Z", {"job": "db", "instance": "d1"}, "ready"),
        ]
    )
    + "\n"
)


def write_bundle(
    folder: Path,
    *,
    incident: str = INCIDENT,
    metrics: str | None = METRICS,
    logs: str | None = LOGS,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "incident.yaml").write_text(incident, encoding="utf-8")
    if metrics is not None:
        (folder / "metrics.om").write_text(metrics, encoding="utf-8")
    if logs is not None:
        (folder / "logs.jsonl").write_text(logs, encoding="utf-8")
    return folder
