"""A real nginx (Debian's ``/usr/sbin/nginx``) for integration tests.

``nginx_factory(servers=..., http=..., files=...)`` writes a complete config
into a temp prefix (pid, error log, access log and every temp path inside it,
so nothing under /var or /run is touched) and runs
``nginx -p PREFIX -c CONF -g 'daemon off;'``.  In the snippets, ``@PORT@`` is
the test port, ``@PREFIX@`` the prefix and ``@CONF@`` the conf dir (for
``include``).  ``server.write(name, text)`` + ``server.reload()`` change an
included file and wait until the new workers serve the new config.

Mind nginx's phases when testing access rules: ``return`` acts in the
rewrite phase, before ``deny``/``allow`` and ``limit_req`` (access and
preaccess phases) ever run; serve a file or proxy instead.

Workers run as the user running the tests; as root that is ``user root;``
because the pytest temp dirs are private (0700) to that user and workers
must reach the temp paths inside them.
"""

from __future__ import annotations

import http.client
import os
import subprocess
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services.ports import (
    LOOPBACK,
    ServiceProcess,
    ServiceStartError,
    free_port,
    require_binary,
    start_process,
)

DEFAULT_SERVERS = """\
server {
    listen 127.0.0.1:@PORT@;
    location / { return 200 "ok\\n"; }
}
"""

_MAIN = """\
@USER@
worker_processes 1;
pid @PREFIX@/nginx.pid;
error_log @PREFIX@/logs/error.log info;
events { worker_connections 256; }
http {
    access_log @PREFIX@/logs/access.log;
    client_body_temp_path @PREFIX@/tmp/body;
    proxy_temp_path @PREFIX@/tmp/proxy;
    fastcgi_temp_path @PREFIX@/tmp/fastcgi;
    uwsgi_temp_path @PREFIX@/tmp/uwsgi;
    scgi_temp_path @PREFIX@/tmp/scgi;
    default_type text/plain;

    # The factory's own server: answers the config generation so reload()
    # knows when new workers serve the new config.
    server {
        listen 127.0.0.1:@CONTROL_PORT@;
        location = /generation { return 200 "@GENERATION@"; }
    }

    include @CONF@/http.d/*.conf;
}
"""


class NginxConfigError(RuntimeError):
    """``nginx -t`` refused the config; the message is nginx's output."""


@dataclass
class NginxServer:
    binary: str
    prefix: Path
    port: int
    control_port: int
    # None only while the config is written, before the first start.
    process: ServiceProcess | None = None
    generation: int = 0

    @property
    def service(self) -> ServiceProcess:
        if self.process is None:
            raise RuntimeError("nginx is not started")
        return self.process

    @property
    def conf_dir(self) -> Path:
        return self.prefix / "conf"

    @property
    def main_conf(self) -> Path:
        return self.conf_dir / "nginx.conf"

    @property
    def access_log(self) -> Path:
        return self.prefix / "logs" / "access.log"

    @property
    def error_log(self) -> Path:
        return self.prefix / "logs" / "error.log"

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def path_of(self, name: str) -> Path:
        """Where the conf file ``name`` (relative to the conf dir) lives."""
        return self.conf_dir / name

    def write(self, name: str, text: str) -> Path:
        """Write a conf file (relative to the conf dir); placeholders are filled in."""
        target = self.conf_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self._fill(text))
        return target

    def check_config(self) -> None:
        completed = subprocess.run(
            [self.binary, *self._args(), "-t"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        if completed.returncode != 0:
            raise NginxConfigError(completed.stdout + completed.stderr)

    def reload(self, timeout: float = 30.0) -> None:
        """Test the config, send ``-s reload`` and wait for the new generation to answer."""
        self.generation += 1
        self.main_conf.write_text(self._main_text())
        try:
            self.check_config()
        except NginxConfigError:
            self.generation -= 1
            self.main_conf.write_text(self._main_text())
            raise
        old_workers = self._workers()
        subprocess.run([self.binary, *self._args(), "-s", "reload"], check=True, timeout=30)
        expected = str(self.generation)
        self.service.wait_ready(
            lambda: self._control_generation() == expected,
            timeout=timeout,
            what=f"config generation {expected} after reload",
        )
        # Old workers keep accepting on the shared sockets until they act on
        # their shutdown; only once they are gone does every request see the
        # new config.
        self.service.wait_ready(
            lambda: not (old_workers & self._workers()),
            timeout=timeout,
            what="old workers gone after reload",
        )

    def _workers(self) -> set[int]:
        master = self.service.process.pid
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        return {int(pid) for pid in children}

    def request(
        self,
        path: str = "/",
        *,
        client_ip: str = LOOPBACK,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        port: int | None = None,
    ) -> tuple[int, str]:
        """One HTTP request from ``client_ip`` (any 127.0.0.x): (status, body)."""
        connection = http.client.HTTPConnection(
            LOOPBACK, port or self.port, timeout=10, source_address=(client_ip, 0)
        )
        try:
            connection.request(method, path, headers=dict(headers or {}))
            response = connection.getresponse()
            return response.status, response.read().decode(errors="replace")
        finally:
            connection.close()

    def _control_generation(self) -> str:
        status, body = self.request("/generation", port=self.control_port)
        return body if status == 200 else ""

    def _args(self) -> list[str]:
        return ["-p", str(self.prefix), "-c", str(self.main_conf), "-e", str(self.error_log)]

    def _fill(self, text: str) -> str:
        return (
            text.replace("@PORT@", str(self.port))
            .replace("@CONTROL_PORT@", str(self.control_port))
            .replace("@PREFIX@", str(self.prefix))
            .replace("@CONF@", str(self.conf_dir))
        )

    def _main_text(self) -> str:
        user = "user root;" if os.geteuid() == 0 else ""
        return self._fill(
            _MAIN.replace("@USER@", user).replace("@GENERATION@", str(self.generation))
        )


def start_nginx(
    *,
    prefix: Path,
    servers: str = DEFAULT_SERVERS,
    files: Mapping[str, str] | None = None,
) -> NginxServer:
    binary = require_binary("nginx")
    for folder in ("conf/http.d", "logs", "tmp"):
        (prefix / folder).mkdir(parents=True, exist_ok=True)
    server = NginxServer(
        binary=binary,
        prefix=prefix,
        port=free_port(),
        control_port=free_port(),
    )
    for name, text in (files or {}).items():
        server.write(name, text)
    server.write("http.d/servers.conf", servers)
    server.main_conf.write_text(server._main_text())
    server.check_config()
    command = [binary, *server._args(), "-g", "daemon off;"]
    process = start_process("nginx", command, log_path=prefix / "logs" / "stdout.log")
    process.extra_logs.append(server.error_log)
    server.process = process
    try:
        process.wait_ready(
            lambda: server._control_generation() == "0", timeout=30, what="control server"
        )
    except ServiceStartError:
        process.stop()
        raise
    return server


NginxFactory = Callable[..., NginxServer]


@pytest.fixture
def nginx_factory(tmp_path_factory: pytest.TempPathFactory) -> Generator[NginxFactory, None, None]:
    """``factory(servers=CONF, files={"deny.conf": "..."})`` -> a running NginxServer.

    ``servers`` goes to ``http.d/servers.conf`` inside ``http {}``; ``files`` are
    extra conf files (relative to the conf dir) for the servers to ``include``,
    e.g. ``include @CONF@/deny.conf;``.
    """
    started: list[NginxServer] = []

    def factory(
        *, servers: str = DEFAULT_SERVERS, files: Mapping[str, str] | None = None
    ) -> NginxServer:
        server = start_nginx(prefix=tmp_path_factory.mktemp("nginx"), servers=servers, files=files)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.service.stop()
