"""Plain nginx: the rules as include files in a ConfigMap (or a conf directory).

``render`` produces a ConfigMap with three keys:

* ``<prefix>-http.conf`` for the ``http {}`` context: per distinct rate, a
  ``geo`` block flagging the limited networks, a ``map`` turning the flag into a
  zone key (``$binary_remote_addr``, or empty: not counted) and a
  ``limit_req_zone``;
* ``<prefix>-server.conf`` for a ``server {}`` (or ``location``) context:
  ``deny <cidr>;`` per deny rule (answered with 403), ``limit_req`` per zone and
  ``limit_req_status 429``;
* ``<prefix>-rules.json``: the rule record ``active()`` reads back.

nginx.conf includes the first inside ``http {}`` and the second inside the
server to protect.  Like every ``deny`` / ``limit_req``, they are inherited only by
locations that set none of their own.  Every address and network is printed
from an ``ipaddress`` value, never from input text.  The client address is
``$remote_addr``: behind a load balancer set up ``real_ip`` first.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from diagnosis_operator.adapters.traffic.common import (
    MANAGED_BY,
    by_mode,
    decode_rules,
    encode_rules,
    merged,
    without,
)
from diagnosis_operator.models.actions import ClientRule, RuleMode
from diagnosis_operator.models.signals import isoformat_z
from diagnosis_operator.ports import ObjectStore


class NginxConfigSink(Protocol):
    """Where the rendered files go: ``read`` what is there, ``write`` + ``reload`` new ones."""

    def read(self) -> Mapping[str, str]: ...

    def write(self, *, files: Mapping[str, str]) -> None: ...


def rate_text(requests_per_second: float) -> str:
    """An nginx ``rate=``: whole requests per second, else per minute (at least 1r/m).  Pure."""
    if requests_per_second >= 1 and float(requests_per_second).is_integer():
        return f"{int(requests_per_second)}r/s"
    return f"{max(1, round(requests_per_second * 60))}r/m"


class NginxBackend:
    """``TrafficPolicyBackend`` rendering nginx include files into a ``NginxConfigSink``."""

    name = "nginx"

    def __init__(
        self,
        *,
        sink: NginxConfigSink,
        prefix: str = "diagnosis-operator",
        namespace: str = "",
        configmap: str = "diagnosis-operator-nginx",
        zone_size: str = "1m",
        burst: int = 0,
    ) -> None:
        if not prefix.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"nginx backend: prefix {prefix!r} must be letters, digits, - and _")
        if not zone_size[:-1].isdigit() or zone_size[-1] not in "km":
            raise ValueError(f"nginx backend: zone size {zone_size!r} must look like 1m or 512k")
        if burst < 0:
            raise ValueError("nginx backend: burst must be >= 0")
        self.sink = sink
        self.prefix = prefix
        self.namespace = namespace
        self.configmap = configmap
        self.zone_size = zone_size
        self.burst = int(burst)
        self.variable = prefix.replace("-", "_")

    @property
    def http_file(self) -> str:
        return f"{self.prefix}-http.conf"

    @property
    def server_file(self) -> str:
        return f"{self.prefix}-server.conf"

    @property
    def rules_file(self) -> str:
        return f"{self.prefix}-rules.json"

    # -- pure rendering

    @staticmethod
    def _note(rule: ClientRule) -> str:
        return f"rule {rule.rule_id} until {isoformat_z(rule.expires_at)}"

    def files(self, rules: Sequence[ClientRule]) -> dict[str, str]:
        """The include files and the rule record for ``rules``.  Pure."""
        deny = sorted(by_mode(rules, RuleMode.DENY), key=lambda r: (r.network.version, r.network))
        limited = by_mode(rules, RuleMode.RATE_LIMIT)
        rates = sorted({rate_text(rule.requests_per_second) for rule in limited})
        header = (
            f"# Managed by diagnosis-operator: {len(deny)} deny, {len(limited)} rate-limit rules.\n"
        )
        http = [header]
        server = [header]
        for index, rate in enumerate(rates):
            flag = f"${self.variable}_rl_{index}"
            key = f"${self.variable}_rl_key_{index}"
            zone = f"{self.variable}_rl_{index}"
            members = sorted(
                (r for r in limited if rate_text(r.requests_per_second) == rate),
                key=lambda r: (r.network.version, r.network),
            )
            http.append(f"geo {flag} {{\n    default 0;\n")
            http.extend(f"    {rule.network} 1;  # {self._note(rule)}\n" for rule in members)
            http.append("}\n")
            http.append(f'map {flag} {key} {{\n    1 $binary_remote_addr;\n    default "";\n}}\n')
            http.append(f"limit_req_zone {key} zone={zone}:{self.zone_size} rate={rate};\n")
            burst = f" burst={self.burst} nodelay" if self.burst else ""
            server.append(f"limit_req zone={zone}{burst};\n")
        if rates:
            server.append("limit_req_status 429;\n")
        server.extend(f"deny {rule.network};  # {self._note(rule)}\n" for rule in deny)
        return {
            self.http_file: "".join(http),
            self.server_file: "".join(server),
            self.rules_file: encode_rules([*deny, *limited]),
        }

    def render(self, *, rules: Sequence[ClientRule]) -> list[dict[str, Any]]:
        """A ConfigMap holding the files (mount it where nginx.conf includes them).  Pure."""
        return [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": self.configmap,
                    "namespace": self.namespace,
                    "labels": dict(MANAGED_BY),
                },
                "data": self.files(rules),
            }
        ]

    # -- TrafficPolicyBackend

    def active(self) -> tuple[ClientRule, ...]:
        return decode_rules(self.sink.read().get(self.rules_file), where=f"nginx {self.rules_file}")

    def apply(self, *, rules: Sequence[ClientRule]) -> None:
        self.sink.write(files=self.files(merged(self.active(), rules)))

    def remove(self, *, rules: Sequence[ClientRule]) -> None:
        self.sink.write(files=self.files(without(self.active(), rules)))


class DirectorySink:
    """Files in a local conf directory, then ``reload()`` (e.g. ``nginx -t && nginx -s reload``).

    Each file is replaced atomically (write to a temp file, rename), so nginx never
    reads half a file.  If ``reload`` raises (a config nginx refuses), the previous
    files are put back and the error propagates.
    """

    def __init__(self, *, directory: Path, reload: Callable[[], None]) -> None:
        self.directory = directory
        self.reload = reload

    def read(self) -> Mapping[str, str]:
        if not self.directory.is_dir():
            return {}
        return {path.name: path.read_text() for path in self.directory.iterdir() if path.is_file()}

    def _replace(self, files: Mapping[str, str]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            if "/" in name or name.startswith("."):
                raise ValueError(f"nginx sink: refusing file name {name!r}")
            handle, temp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
            with os.fdopen(handle, "w") as out:
                out.write(text)
            os.replace(temp, self.directory / name)

    def write(self, *, files: Mapping[str, str]) -> None:
        previous = {name: text for name, text in self.read().items() if name in files}
        self._replace(files)
        try:
            self.reload()
        except Exception:
            self._replace(previous)
            raise


class ConfigMapSink:
    """The files as a ConfigMap's ``data`` (nginx reloads on change: a watcher or sidecar)."""

    def __init__(self, *, store: ObjectStore, namespace: str, name: str) -> None:
        self.store = store
        self.namespace = namespace
        self.name = name

    def read(self) -> Mapping[str, str]:
        obj = self.store.get(
            api_version="v1", kind="ConfigMap", namespace=self.namespace, name=self.name
        )
        return dict((obj or {}).get("data") or {})

    def write(self, *, files: Mapping[str, str]) -> None:
        self.store.put(
            obj={
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": self.name,
                    "namespace": self.namespace,
                    "labels": dict(MANAGED_BY),
                },
                "data": dict(files),
            }
        )
