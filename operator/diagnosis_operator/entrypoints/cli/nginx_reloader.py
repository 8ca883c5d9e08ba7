"""``diagnosis-operator nginx-reloader``: keep nginx's rule includes in step with the ConfigMap.

Runs as a sidecar next to nginx (docs/nginx.md)::

    diagnosis-operator nginx-reloader --configmap edge/diagnosis-operator-nginx \\
        --dir /etc/nginx/diagnosis --pid-file /run/nginx/nginx.pid

Every ``--interval`` seconds it reads the ConfigMap the operator's nginx backend
writes; when its content differs from the directory, the files are replaced and
tested (``--test-cmd``, e.g. ``nginx -t`` where the reloader shares nginx's
container; by default ``nginx -t`` on the rule files alone, in a small config of
their own, as a sidecar can), then nginx is reloaded (``--reload-cmd`` or SIGHUP to
the pid in ``--pid-file``); a config nginx refuses is rolled back to the
last good files and that ConfigMap version is not tried again.  A missing ConfigMap
changes nothing (the operator creates it with its first rule and never deletes it).
Credentials: ``--kubeconfig``, ``--server`` + ``--token-file``, else in-cluster; it
needs only ``get`` on that one ConfigMap.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import signal
import threading
from pathlib import Path
from typing import Any, Protocol

from kubernetes import client, config

from diagnosis_operator.adapters.kubernetes.errors import KubernetesError
from diagnosis_operator.adapters.traffic.nginx_reload import (
    ConfigMapFiles,
    RuleDirectory,
    command_reload,
    command_test,
    signal_reload,
    wrapped_test,
)

log = logging.getLogger("diagnosis_operator.nginx_reloader")


class FileSource(Protocol):
    """Where the files come from: (version, files), or None (``ConfigMapFiles``)."""

    def read(self) -> tuple[str, dict[str, str]] | None: ...


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "nginx-reloader",
        help="sidecar: write the operator's nginx rule ConfigMap into nginx and reload it",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--configmap", required=True, metavar="NAMESPACE/NAME")
    parser.add_argument("--dir", required=True, type=Path, help="where nginx includes the files")
    reload = parser.add_mutually_exclusive_group(required=True)
    reload.add_argument("--reload-cmd", metavar="CMD", help='e.g. "nginx -s reload"')
    reload.add_argument("--pid-file", type=Path, help="SIGHUP the nginx master in this pid file")
    test = parser.add_mutually_exclusive_group()
    test.add_argument(
        "--test-cmd", metavar="CMD", help='the config test, e.g. "nginx -t" (same container)'
    )
    test.add_argument(
        "--nginx",
        default="nginx",
        metavar="BINARY",
        help="default test: BINARY -t on the rule files alone, in a config of their own",
    )
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between looks (2)")
    parser.add_argument("--once", action="store_true", help="one look, then exit")
    parser.add_argument("--kubeconfig", type=Path)
    parser.add_argument("--server", metavar="URL")
    parser.add_argument("--token-file", type=Path)
    parser.add_argument("--certificate-authority", type=Path)
    parser.set_defaults(handler=handle)


def _api_client(args: argparse.Namespace) -> client.ApiClient:
    configuration = client.Configuration()
    if args.server and args.token_file:
        configuration.host = args.server
        token = args.token_file.read_text(encoding="utf-8").strip()
        configuration.api_key = {"BearerToken": token}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
        if args.certificate_authority:
            configuration.ssl_ca_cert = str(args.certificate_authority)
    elif args.kubeconfig:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(args.kubeconfig), client_configuration=configuration
        )
    else:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    return client.ApiClient(configuration)


def watch(
    source: FileSource,
    directory: RuleDirectory,
    *,
    interval: float,
    stop: threading.Event,
    once: bool = False,
) -> int:
    """Look, sync, wait; until ``stop`` is set (or after one look).  0, or 1 if it failed."""
    refused: str | None = None  # the ConfigMap version nginx refused
    while True:
        failed = False
        try:
            found = source.read()
        except KubernetesError as error:
            log.warning("reading the rule ConfigMap failed: %s", error)
            found, failed = None, True
        if found is not None and found[0] != refused:
            version, files = found
            try:
                result = directory.sync(files)
            except ValueError as error:
                log.error("configmap version %s: %s", version, error)
                refused, failed = version, True
            else:
                if result.changed:
                    level = logging.INFO if result.reloaded else logging.ERROR
                    log.log(level, "configmap version %s: %s", version, result.message)
                refused = version if result.refused else None
                failed = result.changed and not result.reloaded
        if once:
            return 1 if failed else 0
        if stop.wait(interval):
            return 0


def handle(args: argparse.Namespace) -> int:
    namespace, _, name = str(args.configmap).partition("/")
    if not namespace or not name:
        raise SystemExit("--configmap must be NAMESPACE/NAME")
    reload = (
        command_reload(shlex.split(args.reload_cmd))
        if args.reload_cmd
        else signal_reload(args.pid_file)
    )
    test = (
        command_test(shlex.split(args.test_cmd))
        if args.test_cmd
        else wrapped_test(args.nginx, args.dir.resolve())
    )
    directory = RuleDirectory(directory=args.dir, test=test, reload=reload)
    source = ConfigMapFiles(api_client=_api_client(args), namespace=namespace, name=name)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    log.info("watching configmap %s/%s into %s", namespace, name, args.dir)
    return watch(source, directory, interval=args.interval, stop=stop, once=args.once)
