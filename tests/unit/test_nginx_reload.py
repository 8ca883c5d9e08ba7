"""The nginx reloader's file handling and loop, with a recording test and reload."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from diagnosis_operator.adapters.traffic.nginx_reload import (
    NginxRefused,
    RuleDirectory,
    checked_names,
    command_test,
)
from diagnosis_operator.entrypoints.cli.nginx_reloader import watch


class Nginx:
    """Refuses any file containing ``broken``; counts tests and reloads."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.tests = 0
        self.reloads = 0
        self.fail_reload = False

    def test(self) -> None:
        self.tests += 1
        for path in self.directory.iterdir():
            if path.is_file() and "broken" in path.read_text():
                raise NginxRefused(f"unknown directive in {path.name}")

    def reload(self) -> None:
        if self.fail_reload:
            raise RuntimeError("nginx -s reload exited with 1")
        self.reloads += 1


def _rules(tmp_path: Path) -> tuple[RuleDirectory, Nginx]:
    nginx = Nginx(tmp_path)
    return RuleDirectory(directory=tmp_path, test=nginx.test, reload=nginx.reload), nginx


def test_new_files_are_written_tested_and_reloaded_once(tmp_path: Path) -> None:
    rules, nginx = _rules(tmp_path)
    (tmp_path / "stale.conf").write_text("deny 10.0.0.1;\n")
    (tmp_path / ".keep").write_text("")
    result = rules.sync({"a-server.conf": "deny 127.0.0.5/32;\n", "a-rules.json": "[]"})
    assert result.reloaded and nginx.reloads == 1
    assert rules.current() == {"a-rules.json": "[]", "a-server.conf": "deny 127.0.0.5/32;\n"}
    assert (tmp_path / ".keep").exists(), "hidden files are not the reloader's"
    again = rules.sync({"a-server.conf": "deny 127.0.0.5/32;\n", "a-rules.json": "[]"})
    assert not again.changed and nginx.reloads == 1 and nginx.tests == 1


def test_a_refused_config_keeps_the_last_good_files_and_does_not_reload(tmp_path: Path) -> None:
    rules, nginx = _rules(tmp_path)
    good = {"a-server.conf": "deny 127.0.0.5/32;\n"}
    rules.sync(good)
    result = rules.sync({"a-server.conf": "broken;\n", "a-http.conf": "geo $x {}\n"})
    assert result.refused and not result.reloaded
    assert "unknown directive in a-server.conf" in result.message
    assert rules.current() == good and nginx.reloads == 1


def test_a_failed_reload_puts_the_previous_files_back_for_the_next_look(tmp_path: Path) -> None:
    rules, nginx = _rules(tmp_path)
    nginx.fail_reload = True
    result = rules.sync({"a-server.conf": "deny 127.0.0.5/32;\n"})
    assert result.changed and not result.reloaded and not result.refused
    assert "reload failed" in result.message and rules.current() == {}
    nginx.fail_reload = False
    assert rules.sync({"a-server.conf": "deny 127.0.0.5/32;\n"}).reloaded


@pytest.mark.parametrize("name", ["../nginx.conf", "a/b.conf", ".hidden", "", "..", "a b"])
def test_keys_that_are_not_plain_file_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="refusing ConfigMap key"):
        checked_names({name: "x"})


def test_the_command_test_raises_with_the_commands_output(tmp_path: Path) -> None:
    with pytest.raises(NginxRefused, match="exited with 3: nope"):
        command_test(["sh", "-c", "echo nope; exit 3"])()
    command_test(["true"])()


class Source:
    """The ConfigMap's versions, one per look; the last look stops the loop."""

    def __init__(self, stop: threading.Event, *versions: tuple[str, dict[str, str]] | None) -> None:
        self.stop = stop
        self.versions = list(versions)
        self.reads = 0

    def read(self) -> tuple[str, dict[str, str]] | None:
        self.reads += 1
        if self.reads >= len(self.versions):
            self.stop.set()
        return self.versions[self.reads - 1]


def test_the_loop_skips_a_refused_version_until_the_configmap_changes(tmp_path: Path) -> None:
    rules, nginx = _rules(tmp_path)
    stop = threading.Event()
    source = Source(
        stop,
        None,
        ("7", {"a-server.conf": "broken;\n"}),
        ("7", {"a-server.conf": "broken;\n"}),
        ("8", {"a-server.conf": "deny 127.0.0.5/32;\n"}),
    )
    assert watch(source, rules, interval=0, stop=stop) == 0
    assert source.reads == 4
    assert nginx.tests == 2, "version 7 was tested once, then skipped"
    assert nginx.reloads == 1 and rules.current() == {"a-server.conf": "deny 127.0.0.5/32;\n"}


def test_one_look_reports_a_refused_config(tmp_path: Path) -> None:
    rules, _ = _rules(tmp_path)
    stop = threading.Event()
    source = Source(stop, ("1", {"a-server.conf": "broken;\n"}))
    assert watch(source, rules, interval=0, stop=stop, once=True) == 1
