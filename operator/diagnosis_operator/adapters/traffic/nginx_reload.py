"""The nginx reloader: the operator's rule ConfigMap -> include files -> a tested reload.

The nginx backend (``nginx.py``) writes the rules as a ConfigMap; nothing in a
cluster makes nginx read it.  The reloader, a sidecar next to nginx (``diagnosis-
operator nginx-reloader``, docs/nginx.md), closes that gap:

1. ``ConfigMapFiles.read`` gets the ConfigMap (one ``get``; its resourceVersion
   says whether anything changed since the last look);
2. ``RuleDirectory.sync`` writes each key as a file into the shared directory,
   each atomically (temp file + rename: nginx never reads half a file), removes
   the files of keys that are gone, and runs the test (``nginx -t``);
3. a config nginx refuses puts the previous files back (the last good set keeps
   serving, nginx is not reloaded) and says why; otherwise nginx is reloaded
   (``nginx -s reload``, or SIGHUP to the master's pid).

File names come from the ConfigMap's keys: only plain names are accepted
(letters, digits, ``.-_``; no path, no leading dot), so a key can never write
outside the directory.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client

from diagnosis_operator.adapters.kubernetes.errors import from_api_exception

_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,252}$")
_NOT_FOUND = 404
COMMAND_TIMEOUT = 60.0


class NginxRefused(RuntimeError):
    """The test (``nginx -t``) refused the new files; the message is its output."""


@dataclass(frozen=True)
class SyncResult:
    changed: bool  # the files differ from what the directory held
    reloaded: bool  # the new files passed the test and nginx was reloaded
    message: str
    refused: bool = False  # nginx -t said no: this content is not tried again


def checked_names(files: Mapping[str, str]) -> dict[str, str]:
    """``files`` if every name is a plain file name, else ``ValueError`` naming it.  Pure."""
    for name in files:
        if not _NAME.match(name) or name in (".", ".."):
            raise ValueError(f"nginx reloader: refusing ConfigMap key {name!r} as a file name")
    return dict(files)


class RuleDirectory:
    """The directory nginx includes the rule files from (shared with the nginx container)."""

    def __init__(
        self, *, directory: Path, test: Callable[[], None], reload: Callable[[], None]
    ) -> None:
        self.directory = directory
        self.test = test
        self.reload = reload

    def current(self) -> dict[str, str]:
        if not self.directory.is_dir():
            return {}
        return {
            path.name: path.read_text(encoding="utf-8")
            for path in sorted(self.directory.iterdir())
            if path.is_file() and not path.name.startswith(".")
        }

    def _put(self, files: Mapping[str, str]) -> None:
        """Exactly ``files`` in the directory: each replaced atomically, the others removed."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            handle, temp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            os.chmod(temp, 0o644)  # nginx workers may run as another user
            os.replace(temp, self.directory / name)
        for name in set(self.current()) - set(files):
            (self.directory / name).unlink(missing_ok=True)

    def sync(self, files: Mapping[str, str]) -> SyncResult:
        """Write ``files``, test, then reload, or put the last good files back."""
        wanted = checked_names(files)
        previous = self.current()
        if wanted == previous:
            return SyncResult(changed=False, reloaded=False, message="rule files unchanged")
        self._put(wanted)
        try:
            self.test()
        except NginxRefused as refused:
            self._put(previous)
            return SyncResult(
                changed=True,
                reloaded=False,
                message=f"nginx refused the new rule files, the last good ones are kept: {refused}",
                refused=True,
            )
        try:
            self.reload()
        except (OSError, RuntimeError, subprocess.SubprocessError) as error:
            # not in force: the previous files go back, the next look tries again
            self._put(previous)
            return SyncResult(changed=True, reloaded=False, message=f"reload failed: {error}")
        names = ", ".join(sorted(wanted)) or "none"
        return SyncResult(changed=True, reloaded=True, message=f"nginx reloaded with {names}")


def _run(argv: Sequence[str], failure: type[RuntimeError]) -> None:
    # an argv from the reloader's own flags, never a shell
    done = subprocess.run(
        list(argv), capture_output=True, text=True, check=False, timeout=COMMAND_TIMEOUT
    )
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()
        raise failure(f"{' '.join(argv)} exited with {done.returncode}: {output}")


def command_test(argv: Sequence[str]) -> Callable[[], None]:
    """The config test: run ``argv`` (``nginx -t``); a non-zero exit is ``NginxRefused``."""
    return lambda: _run(argv, NginxRefused)


def command_reload(argv: Sequence[str]) -> Callable[[], None]:
    """The reload: run ``argv`` (``nginx -s reload``); a failure raises ``RuntimeError``."""
    return lambda: _run(argv, RuntimeError)


_WRAPPER = """\
pid {tmp}/nginx.pid;
events {{ worker_connections 16; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {directory}/*-http.conf;
    server {{
        listen unix:{tmp}/test.sock;
        include {directory}/*-server.conf;
        location / {{ root {tmp}; }}
    }}
}}
"""


def wrapped_test(nginx: str, directory: Path) -> Callable[[], None]:
    """The config test of a sidecar: ``nginx -t`` on the rule files alone.

    A sidecar cannot see nginx's own configuration; it checks that the rule files
    parse where nginx includes them (``*-http.conf`` in ``http {}``,
    ``*-server.conf`` in a ``server {}``), in a small config of its own, with only
    the ``nginx`` binary (a sidecar image needs it, nothing else of nginx).  It runs
    as any user: its logs, temp paths, pid and listening socket (``nginx -t`` binds
    it) are all in a temp dir.
    """

    def test() -> None:
        with tempfile.TemporaryDirectory(prefix="nginx-test-") as tmp:
            conf = Path(tmp) / "nginx.conf"
            conf.write_text(_WRAPPER.format(tmp=tmp, directory=directory), encoding="utf-8")
            _run([nginx, "-t", "-q", "-p", tmp, "-c", str(conf), "-e", "stderr"], NginxRefused)

    return test


def signal_reload(pid_file: Path) -> Callable[[], None]:
    """The reload: SIGHUP to the nginx master whose pid is in ``pid_file``.

    Needs a shared process namespace with the nginx container
    (``shareProcessNamespace: true``) and the pid file on a shared volume.
    """

    def reload() -> None:
        text = pid_file.read_text(encoding="utf-8").strip()
        if not text.isdigit():
            raise RuntimeError(f"nginx reloader: {pid_file} holds no pid: {text[:40]!r}")
        os.kill(int(text), signal.SIGHUP)

    return reload


class ConfigMapFiles:
    """One ConfigMap's ``data``, read with one ``get`` (RBAC: get on that ConfigMap)."""

    def __init__(
        self, *, api_client: client.ApiClient, namespace: str, name: str, timeout: float = 30.0
    ) -> None:
        self._core = client.CoreV1Api(api_client)
        self.namespace = namespace
        self.name = name
        self._timeout = timeout

    def read(self) -> tuple[str, dict[str, str]] | None:
        """(resourceVersion, data), or None when the ConfigMap does not exist (yet)."""
        try:
            found = self._core.read_namespaced_config_map(
                self.name, self.namespace, _request_timeout=self._timeout
            )
        except client.ApiException as error:
            if error.status == _NOT_FOUND:
                return None
            raise from_api_exception(
                error, what=f"get configmap {self.namespace}/{self.name}"
            ) from error
        version = str(found.metadata.resource_version if found.metadata else "")
        return version, dict(found.data or {})
