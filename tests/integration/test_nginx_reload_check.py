"""The reloader's default config test against Debian's nginx binary: the rule files alone."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path

import pytest

from diagnosis_operator.adapters.traffic.nginx import NginxBackend
from diagnosis_operator.adapters.traffic.nginx_reload import (
    NginxRefused,
    RuleDirectory,
    wrapped_test,
)
from diagnosis_operator.models.actions import ClientRule, RuleMode
from tests.services.ports import require_binary

pytestmark = pytest.mark.integration

NOW = 1_800_000_000.0


def _rule(cidr: str, mode: RuleMode, rule_id: str) -> ClientRule:
    return ClientRule(
        rule_id=rule_id,
        network=ipaddress.ip_network(cidr),
        mode=mode,
        requests_per_second=0.5,
        created_at=NOW,
        expires_at=NOW + 600,
        level=0,
    )


class _NoSink:
    """The backend is used for its pure rendering only."""

    def read(self) -> Mapping[str, str]:
        return {}

    def write(self, *, files: Mapping[str, str]) -> None:
        raise AssertionError("not written through the backend here")


def test_the_operators_files_pass_and_a_broken_one_keeps_the_last_good(tmp_path: Path) -> None:
    nginx = require_binary("nginx")
    reloads: list[int] = []
    rules = RuleDirectory(
        directory=tmp_path, test=wrapped_test(nginx, tmp_path), reload=lambda: reloads.append(1)
    )
    files = NginxBackend(sink=_NoSink(), burst=2).files(
        [
            _rule("127.0.0.5/32", RuleMode.RATE_LIMIT, "r1"),
            _rule("fd00::/64", RuleMode.DENY, "d1"),
        ]
    )
    assert rules.sync(files).reloaded and reloads == [1]
    broken = {**files, "diagnosis-operator-server.conf": "limit_req zone=nowhere;\n"}
    result = rules.sync(broken)
    assert result.refused and "nowhere" in result.message, result.message
    assert rules.current() == files and reloads == [1]


def test_an_empty_directory_passes(tmp_path: Path) -> None:
    wrapped_test(require_binary("nginx"), tmp_path)()
    with pytest.raises(NginxRefused, match="unknown directive"):
        (tmp_path / "x-http.conf").write_text("no_such_directive on;\n")
        wrapped_test(require_binary("nginx"), tmp_path)()
