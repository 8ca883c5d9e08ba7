"""Operator settings: environment, flags, and the combinations that make no sense."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from diagnosis_operator.settings import OperatorSettings


def test_environment_is_read_with_the_diag_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIAG_NAMESPACES", "shop, payments")
    monkeypatch.setenv("DIAG_PROMETHEUS_URL", "http://127.0.0.1:9090/")
    monkeypatch.setenv("DIAG_SOURCE_RETRIES", "5")
    settings = OperatorSettings()
    assert settings.namespaces == ("shop", "payments")
    assert settings.prometheus_url == "http://127.0.0.1:9090"
    assert settings.source_retries == 5
    assert settings.standalone is False and settings.peering_name == "diagnosis-operator"


def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIAG_LOKI_URL", "http://127.0.0.1:3100")
    settings = OperatorSettings(all_namespaces=True, loki_url="http://127.0.0.2:3100")
    assert settings.loki_url == "http://127.0.0.2:3100"


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({}, "give namespaces to watch, or all_namespaces"),
        ({"namespaces": ("a",), "all_namespaces": True}, "not both"),
        ({"all_namespaces": True, "kube_server": "https://127.0.0.1:6443"}, "go together"),
        ({"all_namespaces": True, "prometheus_url": "127.0.0.1:9090"}, "not an http(s) URL"),
        ({"all_namespaces": True, "source_retries": -1}, "greater than or equal to 0"),
        (
            {
                "all_namespaces": True,
                "kube_server": "https://127.0.0.1:6443",
                "kube_token_file": Path("t"),
                "kubeconfig": Path("k"),
            },
            "either a kubeconfig",
        ),
        ({"all_namespaces": True, "surprise": 1}, "Extra inputs are not permitted"),
    ],
)
def test_inconsistent_settings_are_refused(values: dict[str, object], words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        OperatorSettings(**values)  # type: ignore[arg-type]
    assert words in str(caught.value)
