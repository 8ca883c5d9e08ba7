"""A real Kubernetes control plane for the tests: etcd, kube-apiserver, kube-controller-manager.

Session-scoped and envtest-style: the binaries built by ``tests/controlplane/build.sh``
(cached in ``~/.cache/diagnosis-operator/bin``) run on free loopback ports in a
temp directory, with RBAC on, a token file whose ``admin`` is in ``system:masters``,
service-account keys and a serving certificate made with openssl.  Missing binaries
fail the test (never skip it) with the command that builds them.

Fixtures:
  control_plane      the running ControlPlane (server, CA, admin token, log files)
  kube_admin         an admin ``kubernetes.client.ApiClient``
  admin_kubeconfig   path of an admin kubeconfig file

Process logs go to files in the control plane's directory; a failed test that used
the control plane shows their paths and last lines.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pluggy
import pytest
import yaml
from kubernetes import client

KUBE_VERSION = os.environ.get("KUBE_VERSION", "v1.36.3")
ETCD_VERSION = os.environ.get("ETCD_VERSION", "v3.6.16")
HELM_VERSION = os.environ.get("HELM_VERSION", "v3.22.0")
CACHE = Path(os.environ.get("DIAG_CACHE", Path.home() / ".cache" / "diagnosis-operator"))
BIN = CACHE / "bin"
BUILD_HINT = "build it with `bash tests/controlplane/build.sh` (or `make deps`; 10-25 min cold)"
READY_TIMEOUT = 240.0
CONTROLLERS = (
    "namespace-controller,garbage-collector-controller,serviceaccount-controller,"
    "endpointslice-controller,disruption-controller"
)
ADMIN_TOKEN = "admin-token-for-tests"


def binary(name: str, version: str) -> Path:
    """The cached binary ``<name>-<version>``; fails the test loudly when it is missing."""
    path = BIN / f"{name}-{version}"
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: {BUILD_HINT}", pytrace=False)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(directory: Path) -> None:
    """A CA, a serving certificate for 127.0.0.1/localhost, and the service-account key pair."""
    _openssl("genrsa", "-out", "ca.key", "2048", cwd=directory)
    _openssl(
        "req",
        "-x509",
        "-new",
        "-nodes",
        "-key",
        "ca.key",
        "-subj",
        "/CN=diagnosis-test-ca",
        "-days",
        "2",
        "-out",
        "ca.crt",
        cwd=directory,
    )
    _openssl("genrsa", "-out", "serving.key", "2048", cwd=directory)
    _openssl(
        "req",
        "-new",
        "-key",
        "serving.key",
        "-subj",
        "/CN=kube-apiserver",
        "-out",
        "serving.csr",
        cwd=directory,
    )
    (directory / "san.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n"
        "extendedKeyUsage=serverAuth\n",
        encoding="utf-8",
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        "serving.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "serving.crt",
        cwd=directory,
    )
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=directory)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=directory)


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"({path} unreadable)"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=timeout)


def start_process(
    name: str, argv: list[str], *, directory: Path, env: dict[str, str] | None = None
) -> Process:
    log = directory / f"{name}.log"
    with log.open("ab") as sink:
        popen = subprocess.Popen(
            argv,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=directory,
            env=env,
            start_new_session=True,
        )
    return Process(name=name, popen=popen, log=log)


@dataclass
class ControlPlane:
    directory: Path
    server: str
    ca_file: Path
    admin_token: str
    kubeconfig: Path
    processes: list[Process] = field(default_factory=list)

    def configuration(self, *, token: str | None = None) -> client.Configuration:
        configuration = client.Configuration()
        configuration.host = self.server
        configuration.ssl_ca_cert = str(self.ca_file)
        configuration.api_key = {"BearerToken": token or self.admin_token}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
        return configuration

    def api_client(self, *, token: str | None = None) -> client.ApiClient:
        return client.ApiClient(self.configuration(token=token))

    @property
    def logs(self) -> list[Path]:
        return [process.log for process in self.processes]

    def check_alive(self) -> None:
        for process in self.processes:
            code = process.popen.poll()
            if code is not None:
                raise RuntimeError(
                    f"{process.name} exited with {code}; log {process.log}:\n{tail(process.log)}"
                )

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def write_kubeconfig(path: Path, *, server: str, ca_file: Path, token: str, user: str) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "test", "cluster": {"server": server, "certificate-authority": str(ca_file)}}
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": user}}],
        "current-context": "test",
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    path.chmod(0o600)


def wait_ready(plane: ControlPlane, *, timeout: float = READY_TIMEOUT) -> None:
    context = ssl.create_default_context(cafile=str(plane.ca_file))
    request = urllib.request.Request(
        plane.server + "/readyz", headers={"Authorization": f"Bearer {plane.admin_token}"}
    )
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        plane.check_alive()
        try:
            with urllib.request.urlopen(request, context=context, timeout=5) as response:
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except Exception as error:  # not up yet: connection refused, 500 while hooks start
            last = f"{type(error).__name__}: {error}"
        time.sleep(1.0)
    logs = "\n".join(f"--- {p}\n{tail(p)}" for p in plane.logs)
    raise RuntimeError(f"kube-apiserver not ready after {timeout:.0f}s ({last})\n{logs}")


def start_control_plane(directory: Path) -> ControlPlane:
    etcd = binary("etcd", ETCD_VERSION)
    apiserver = binary("kube-apiserver", KUBE_VERSION)
    controller_manager = binary("kube-controller-manager", KUBE_VERSION)
    if shutil.which("openssl") is None:
        pytest.fail(
            "openssl is missing: apt-get install openssl (scripts/install-deps.sh)", pytrace=False
        )
    make_certificates(directory)
    (directory / "tokens.csv").write_text(
        f"{ADMIN_TOKEN},admin,admin-uid,system:masters\n", encoding="utf-8"
    )
    etcd_client, etcd_peer, secure = free_port(), free_port(), free_port()
    server = f"https://127.0.0.1:{secure}"
    plane = ControlPlane(
        directory=directory,
        server=server,
        ca_file=directory / "ca.crt",
        admin_token=ADMIN_TOKEN,
        kubeconfig=directory / "admin.kubeconfig",
    )
    write_kubeconfig(
        plane.kubeconfig, server=server, ca_file=plane.ca_file, token=ADMIN_TOKEN, user="admin"
    )
    try:
        plane.processes.append(
            start_process(
                "etcd",
                [
                    str(etcd),
                    f"--data-dir={directory / 'etcd'}",
                    f"--listen-client-urls=http://127.0.0.1:{etcd_client}",
                    f"--advertise-client-urls=http://127.0.0.1:{etcd_client}",
                    f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
                    f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
                    f"--initial-cluster=default=http://127.0.0.1:{etcd_peer}",
                    "--unsafe-no-fsync=true",
                    "--log-level=warn",
                ],
                directory=directory,
            )
        )
        plane.processes.append(
            start_process(
                "kube-apiserver",
                [
                    str(apiserver),
                    f"--etcd-servers=http://127.0.0.1:{etcd_client}",
                    "--bind-address=127.0.0.1",
                    "--advertise-address=127.0.0.1",
                    f"--secure-port={secure}",
                    f"--cert-dir={directory / 'apiserver-certs'}",
                    f"--tls-cert-file={directory / 'serving.crt'}",
                    f"--tls-private-key-file={directory / 'serving.key'}",
                    "--service-cluster-ip-range=10.0.0.0/24",
                    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                    f"--service-account-key-file={directory / 'sa.pub'}",
                    f"--service-account-signing-key-file={directory / 'sa.key'}",
                    "--authorization-mode=RBAC",
                    f"--token-auth-file={directory / 'tokens.csv'}",
                    "--allow-privileged=true",
                    "--enable-priority-and-fairness=false",
                    # Loopback addresses cannot back the "kubernetes" Service endpoints.
                    "--endpoint-reconciler-type=none",
                    "--profiling=false",
                    "--v=1",
                ],
                directory=directory,
            )
        )
        wait_ready(plane)
        plane.processes.append(
            start_process(
                "kube-controller-manager",
                [
                    str(controller_manager),
                    f"--kubeconfig={plane.kubeconfig}",
                    "--leader-elect=false",
                    f"--controllers={CONTROLLERS}",
                    f"--service-account-private-key-file={directory / 'sa.key'}",
                    f"--root-ca-file={plane.ca_file}",
                    "--secure-port=0",
                    "--v=1",
                ],
                directory=directory,
            )
        )
        time.sleep(1.0)
        plane.check_alive()
    except BaseException:
        plane.stop()
        raise
    return plane


@pytest.fixture(scope="session")
def control_plane(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    directory = tmp_path_factory.mktemp("controlplane")
    try:
        plane = start_control_plane(directory)
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    request.session._diagnosis_control_plane = plane  # type: ignore[attr-defined]
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def kube_admin(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    api_client = control_plane.api_client()
    try:
        yield api_client
    finally:
        api_client.close()  # type: ignore[no-untyped-call]  # ApiClient.close is unannotated


@pytest.fixture(scope="session")
def admin_kubeconfig(control_plane: ControlPlane) -> Path:
    return control_plane.kubeconfig


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    outcome = yield
    report = outcome.get_result()
    if not report.failed or "control_plane" not in getattr(item, "fixturenames", ()):
        return
    plane: ControlPlane | None = getattr(item.session, "_diagnosis_control_plane", None)
    logs = plane.logs if plane else []
    extra: list[Path] = getattr(item.session, "_diagnosis_extra_logs", [])
    for path in [*logs, *extra]:
        report.sections.append((f"log {path.name} ({path})", tail(path)))
