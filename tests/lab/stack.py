"""The lab stack: real software on loopback, started and stopped as one.

``start_lab(workdir)`` starts, reusing the ``tests/services`` starters:

* MariaDB (seeded: ``items``, ``item_stats``, ``orders`` with 400k rows and an index)
  and ``prometheus-mysqld-exporter``;
* Redis and ``prometheus-redis-exporter``;
* three backend app instances (``tests/lab/app.py``) on 127.0.0.11-13, one port;
* nginx in front of them (JSON access log, ``stub_status``) and
  ``prometheus-nginx-exporter``;
* the Loki test server and the log shipper (``tests/lab/shipper.py``) tailing
  every log file above into it;
* Alertmanager routing to ``webhook_url`` (else to a small sink that appends
  each notification to ``alerts.jsonl``) and Prometheus scraping everything
  every ``SCRAPE_SECONDS`` with the rules of ``tests/lab/rules.yml``.

``Lab.state`` (also written to ``workdir/lab.json``) is what the fault scripts
and the recorder read: URLs, ports, addresses, credentials of this run.
``Lab.stop()`` stops every process (each also dies with its parent).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.lab import config as lab_config
from tests.lab.sink import AlertSink
from tests.services.alertmanager import (
    AlertmanagerServer,
    WebhookReceiver,
    alertmanager_config,
    start_alertmanager,
)
from tests.services.loki import REPO_ROOT, start_loki_server
from tests.services.mariadb import MariaDBServer, start_mariadb
from tests.services.nginx import NginxServer, start_nginx
from tests.services.ports import (
    LOOPBACK,
    ServiceProcess,
    clean_env,
    free_port,
    port_accepts,
    require_binary,
    start_process,
)
from tests.services.prometheus import PrometheusServer, start_prometheus
from tests.services.redis import RedisServer, start_redis

BACKEND_HOSTS = ("127.0.0.11", "127.0.0.12", "127.0.0.13")
LOKI_TENANT = "lab"
STATE_FILE = "lab.json"


@dataclass
class Lab:
    workdir: Path
    mariadb: MariaDBServer
    redis: RedisServer
    nginx: NginxServer
    prometheus: PrometheusServer
    alertmanager: AlertmanagerServer
    loki_url: str
    backends: list[str]
    processes: list[ServiceProcess] = field(default_factory=list)
    sink: AlertSink | None = None
    state: dict[str, Any] = field(default_factory=dict)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop(timeout=60)
        self.processes.clear()
        if self.sink is not None:
            self.sink.close()
            self.sink = None


def start_lab(
    *,
    workdir: Path,
    webhook_url: str | None = None,
    token: str | None = None,
    pod_ips: Mapping[str, str] | None = None,
    rules: str | None = None,
) -> Lab:
    """Start the whole stack under ``workdir``; on a failure what started is stopped.

    ``pod_ips`` maps a backend host (``BACKEND_HOSTS``) to the pod address it is
    known by where the lab plays a cluster (``tests/lab/cluster.py``): its metrics'
    and log streams' ``instance`` and nginx's logged ``upstream_addr`` name the pod.
    ``rules`` replaces the lab's alert rules (a Prometheus rule file's text).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    started: list[ServiceProcess] = []
    sink: AlertSink | None = None
    try:
        mariadb = start_mariadb(workdir=_dir(workdir, "mariadb"))
        started.append(mariadb.process)
        exporter_params = lab_config.seed_mariadb(mariadb)
        redis_server = start_redis(workdir=_dir(workdir, "redis"))
        started.append(redis_server.process)
        loki = start_loki_server(log_dir=_dir(workdir, "loki"), max_entries=5000)
        started.append(loki.process)
        port = _backend_port()
        backends = [f"{host}:{port}" for host in BACKEND_HOSTS]
        names = {f"{host}:{port}": f"{ip}:{port}" for host, ip in (pod_ips or {}).items()}
        started += _start_backends(workdir, mariadb, redis_server, port)
        nginx, status_port = _start_nginx(workdir, backends, names)
        started.append(nginx.service)
        exporters = _start_exporters(
            workdir, mariadb, exporter_params, redis_server, status_port=status_port
        )
        started += [process for process, _ in exporters.values()]
        if webhook_url is None:
            sink = AlertSink(workdir / "alerts.jsonl")
            webhook_url = sink.url
        alertmanager = start_alertmanager(
            workdir=_dir(workdir, "alertmanager"),
            config=alertmanager_config(
                receivers=[WebhookReceiver(name="operator", url=webhook_url, token=token)],
                group_by=("alertname",),
                group_wait="2s",
                group_interval="10s",
                repeat_interval="1h",
            ),
        )
        started.append(alertmanager.process)
        targets = {name: address for name, (_, address) in exporters.items()}
        prometheus = _start_prometheus(
            workdir,
            alertmanager,
            backends,
            targets,
            instances={
                "mysql": f"{mariadb.host}:{mariadb.port}",
                "redis": f"{redis_server.host}:{redis_server.port}",
                "nginx": f"{LOOPBACK}:{nginx.port}",
            },
            names=names,
            rules=rules or lab_config.RULES,
        )
        started.append(prometheus.process)
        shipper = _start_shipper(
            workdir, loki.url, mariadb, redis_server, nginx, port=port, names=names
        )
        started.append(shipper)
    except BaseException:
        for process in reversed(started):
            process.stop(timeout=60)
        if sink is not None:
            sink.close()
        raise
    lab = Lab(
        workdir=workdir,
        mariadb=mariadb,
        redis=redis_server,
        nginx=nginx,
        prometheus=prometheus,
        alertmanager=alertmanager,
        loki_url=loki.url,
        backends=backends,
        processes=started,
        sink=sink,
    )
    lab.state = _state(lab, webhook_url)
    lab.state["instances"] = {address: names.get(address, address) for address in backends}
    (workdir / STATE_FILE).write_text(json.dumps(lab.state, indent=1), encoding="utf-8")
    return lab


def _dir(workdir: Path, name: str) -> Path:
    path = workdir / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def _backend_port() -> int:
    for _ in range(20):
        port = free_port(BACKEND_HOSTS[0])
        if not any(port_accepts(host, port, timeout=0.2) for host in BACKEND_HOSTS):
            return port
    raise RuntimeError("no port free on every backend address")


def _start_backends(
    workdir: Path, mariadb: MariaDBServer, redis_server: RedisServer, port: int
) -> list[ServiceProcess]:
    config = workdir / "app" / "app.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    mysql = mariadb.connect_params()
    mysql.pop("connect_timeout", None)
    mysql.pop("autocommit", None)
    config.write_text(
        json.dumps(
            {"mysql": mysql, "redis": {"host": redis_server.host, "port": redis_server.port}}
        )
    )
    config.chmod(0o600)
    processes = []
    for host in BACKEND_HOSTS:
        command = [
            sys.executable,
            "-m",
            "tests.lab.app",
            "--host",
            host,
            "--port",
            str(port),
            "--config",
            str(config),
            "--log",
            str(workdir / "app" / f"{host}.log"),
        ]
        process = start_process(
            f"app-{host}",
            command,
            log_path=workdir / "app" / f"{host}.stdout",
            cwd=REPO_ROOT,
            env=clean_env(
                {"PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "operator"), str(REPO_ROOT)])}
            ),
        )
        processes.append(process)
    for host, process in zip(BACKEND_HOSTS, processes, strict=True):
        process.wait_ready(functools.partial(_http_ok, f"http://{host}:{port}/healthz"), timeout=60)
    return processes


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return int(response.status) == 200


def _start_nginx(
    workdir: Path, backends: list[str], names: dict[str, str]
) -> tuple[NginxServer, int]:
    status_port = free_port()
    servers = lab_config.nginx_servers(status_port=status_port)
    files = {
        **lab_config.upstream_files(backends, names),
        f"{lab_config.RULES_DIR}/.keep": "",
    }
    return start_nginx(prefix=_dir(workdir, "nginx"), servers=servers, files=files), status_port


def _start_exporters(
    workdir: Path,
    mariadb: MariaDBServer,
    exporter_params: dict[str, Any],
    redis_server: RedisServer,
    *,
    status_port: int,
) -> dict[str, tuple[ServiceProcess, str]]:
    """name -> (process, its metrics address)."""
    out: dict[str, tuple[ServiceProcess, str]] = {}
    folder = _dir(workdir, "exporters")
    mysql_port, redis_port, nginx_port = free_port(), free_port(), free_port()
    dsn = (
        f"{exporter_params['user']}:{exporter_params['password']}@({mariadb.host}:{mariadb.port})/"
    )
    out["mysql"] = (
        start_process(
            "mysqld-exporter",
            [
                require_binary("prometheus-mysqld-exporter"),
                f"--web.listen-address={LOOPBACK}:{mysql_port}",
                "--collect.info_schema.processlist",
                "--collect.info_schema.innodb_metrics",
                "--config.my-cnf=/dev/null",
            ],
            log_path=folder / "mysqld-exporter.log",
            env=clean_env({"DATA_SOURCE_NAME": dsn}),
        ),
        f"{LOOPBACK}:{mysql_port}",
    )
    out["redis"] = (
        start_process(
            "redis-exporter",
            [
                require_binary("prometheus-redis-exporter"),
                f"-redis.addr=redis://{redis_server.host}:{redis_server.port}",
                f"-web.listen-address={LOOPBACK}:{redis_port}",
            ],
            log_path=folder / "redis-exporter.log",
            env=clean_env(),
        ),
        f"{LOOPBACK}:{redis_port}",
    )
    out["nginx"] = (
        start_process(
            "nginx-exporter",
            [
                require_binary("prometheus-nginx-exporter"),
                f"-nginx.scrape-uri=http://{LOOPBACK}:{status_port}/stub_status",
                f"-web.listen-address={LOOPBACK}:{nginx_port}",
                "-nginx.retries=10",
                "-nginx.retry-interval=1s",
            ],
            log_path=folder / "nginx-exporter.log",
            env=clean_env(),
        ),
        f"{LOOPBACK}:{nginx_port}",
    )
    for process, address in out.values():
        process.wait_ready(functools.partial(_http_ok, f"http://{address}/metrics"), timeout=60)
    return out


def _start_prometheus(
    workdir: Path,
    alertmanager: AlertmanagerServer,
    backends: list[str],
    exporters: dict[str, str],
    *,
    instances: dict[str, str],
    names: dict[str, str],
    rules: str,
) -> PrometheusServer:
    folder = _dir(workdir, "prometheus")
    rule_file = folder / "rules.yml"
    rule_file.write_text(rules, encoding="utf-8")
    config = lab_config.prometheus_config(
        alertmanager=alertmanager.url.removeprefix("http://"),
        rules=rule_file,
        backends=backends,
        exporters=exporters,
        instances=instances,
        names=names,
    )
    return start_prometheus(workdir=folder, config=config)


def _start_shipper(
    workdir: Path,
    loki_url: str,
    mariadb: MariaDBServer,
    redis_server: RedisServer,
    nginx: NginxServer,
    *,
    port: int,
    names: dict[str, str],
) -> ServiceProcess:
    files = lab_config.shipped_files(
        workdir=workdir,
        backends=BACKEND_HOSTS,
        port=port,
        mariadb=mariadb,
        redis=redis_server,
        nginx=nginx,
        names=names,
    )
    config = workdir / "shipper.json"
    config.write_text(json.dumps({"loki": loki_url, "tenant": LOKI_TENANT, "files": files}))
    return start_process(
        "log-shipper",
        [sys.executable, "-m", "tests.lab.shipper", "--config", str(config)],
        log_path=workdir / "shipper.log",
        cwd=REPO_ROOT,
        env=clean_env(
            {"PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "operator"), str(REPO_ROOT)])}
        ),
    )


def _state(lab: Lab, webhook_url: str) -> dict[str, Any]:
    return {
        "workdir": str(lab.workdir),
        "prometheus": lab.prometheus.url,
        "alertmanager": lab.alertmanager.url,
        "loki": lab.loki_url,
        "lokiTenant": LOKI_TENANT,
        "webhook": webhook_url,
        "nginx": lab.nginx.url,
        "nginxPrefix": str(lab.nginx.prefix),
        "backends": lab.backends,
        "redis": {"host": lab.redis.host, "port": lab.redis.port},
        "mariadb": {
            "host": lab.mariadb.host,
            "port": lab.mariadb.port,
            "rootPassword": lab.mariadb.root_password,
            "appUser": lab.mariadb.app_user,
            "appPassword": lab.mariadb.app_password,
            "database": lab.mariadb.database,
        },
    }


def read_state(workdir: Path) -> dict[str, Any]:
    """The running lab's ``lab.json`` (what ``start_lab`` wrote)."""
    state: dict[str, Any] = json.loads((workdir / STATE_FILE).read_text(encoding="utf-8"))
    return state


@contextlib.contextmanager
def running_lab(**options: Any) -> Any:
    lab = start_lab(**options)
    try:
        yield lab
    finally:
        lab.stop()
