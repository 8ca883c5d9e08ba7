"""The webhook application in-process (aiohttp's test server on loopback, a fake writer)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from diagnosis_operator.adapters.kubernetes.errors import KubernetesError
from diagnosis_operator.core.alerts import AlertRouting
from diagnosis_operator.entrypoints.http.webhook import (
    PolicyRouting,
    StaticRouting,
    TokenSource,
    WebhookSettings,
    build_app,
)
from tests.fakes.diagnosis_writer import FakeDiagnosisWriter

TOKEN = "s3cret-token"
NOW = datetime(2031, 3, 4, 5, 20, tzinfo=UTC).timestamp()
POLICY_OBJECT = {
    "apiVersion": "diagnosis.dev/v1alpha1",
    "kind": "DiagnosisPolicy",
    "metadata": {"name": "shop", "namespace": "team-a"},
    "spec": {"components": [{"name": "orders", "kind": "app", "selector": {"job": "orders-svc"}}]},
}


def notification(*, status: str = "firing", job: str = "orders-svc") -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighErrors"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "diagnosis",
        "groupLabels": {"alertname": "HighErrors"},
        "commonLabels": {"alertname": "HighErrors", "job": job},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.test",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "HighErrors", "job": job},
                "annotations": {},
                "startsAt": "2031-03-04T05:10:00.5Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": "abc",
            }
        ],
    }


Scenario = Callable[[TestClient[Any, Any], FakeDiagnosisWriter], Awaitable[None]]


def run(
    scenario: Scenario,
    *,
    writer: FakeDiagnosisWriter | None = None,
    routing: Any = None,
    token: TokenSource | None = None,
    max_body_bytes: int = 64 * 1024,
) -> FakeDiagnosisWriter:
    fake = writer or FakeDiagnosisWriter(policies={("team-a", "shop"): POLICY_OBJECT})
    app = build_app(
        writer=fake,
        routing=routing
        or PolicyRouting(reader=fake, template=AlertRouting(policy="shop", namespace="team-a")),
        token=token or TokenSource(value=TOKEN),
        clock=lambda: NOW,
        max_body_bytes=max_body_bytes,
    )

    async def main() -> None:
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            await scenario(client, fake)

    asyncio.run(main())
    return fake


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_firing_group_creates_one_diagnosis_then_deduplicates() -> None:
    async def scenario(client: TestClient[Any, Any], fake: FakeDiagnosisWriter) -> None:
        first = await client.post("/alertmanager", json=notification(), headers=AUTH)
        assert first.status == 201, await first.text()
        created = await first.json()
        assert created["result"] == "created" and created["component"] == "orders"
        again = await client.post("/alertmanager", json=notification(), headers=AUTH)
        assert again.status == 200
        repeat = await again.json()
        assert repeat == {**created, "result": "deduplicated"}

    fake = run(scenario)
    assert len(fake.created()) == 1
    assert len(fake.attempts) == 2
    (body,) = fake.created()
    assert body["spec"]["symptom"]["component"] == "orders"
    assert body["spec"]["policyRef"] == {"name": "shop"}


def test_policy_in_the_path() -> None:
    async def scenario(client: TestClient[Any, Any], fake: FakeDiagnosisWriter) -> None:
        answer = await client.post("/alertmanager/team-a/shop", json=notification(), headers=AUTH)
        assert answer.status == 201
        missing = await client.post("/alertmanager/team-a/nope", json=notification(), headers=AUTH)
        assert missing.status == 404
        assert "team-a/nope" in (await missing.json())["error"]

    assert len(run(scenario).created()) == 1


def test_resolved_group_is_acknowledged_without_a_diagnosis() -> None:
    async def scenario(client: TestClient[Any, Any], fake: FakeDiagnosisWriter) -> None:
        answer = await client.post(
            "/alertmanager", json=notification(status="resolved"), headers=AUTH
        )
        assert answer.status == 200
        assert (await answer.json())["result"] == "ignored"

    assert run(scenario).attempts == []


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer"},
        {"Authorization": f"Bearer {TOKEN}x"},
    ],
)
def test_missing_or_wrong_token_is_refused(headers: dict[str, str]) -> None:
    async def scenario(client: TestClient[Any, Any], fake: FakeDiagnosisWriter) -> None:
        answer = await client.post("/alertmanager", json=notification(), headers=headers)
        assert answer.status == 401
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await answer.json())["result"] == "unauthorized"

    assert run(scenario).attempts == []


def test_token_file_is_reread_when_rotated(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("first\n")
    source = TokenSource(path=token_file)

    async def scenario(client: TestClient[Any, Any], fake: FakeDiagnosisWriter) -> None:
        ok = await client.post(
            "/alertmanager", json=notification(), headers={"Authorization": "Bearer first"}
        )
        assert ok.status == 201
        token_file.write_text("second\n")
        os.utime(token_file, ns=(1, 1))  # a new mtime even on coarse clocks
        old = await client.post(
            "/alertmanager", json=notification(), headers={"Authorization": "Bearer first"}
        )
        assert old.status == 401
        new = await client.post(
            "/alertmanager", json=notification(), headers={"Authorization": "Bearer second"}
        )
        assert new.status == 200

    run(scenario, token=source)


def test_empty_token_is_a_startup_error(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("\n")
    with pytest.raises(ValueError, match="empty"):
        TokenSource(path=tmp_path / "token")
    with pytest.raises(ValueError, match="empty"):
        TokenSource(value="  ")
    with pytest.raises(ValueError, match="cannot read"):
        TokenSource(path=tmp_path / "missing")


def test_content_type_and_size_limits() -> None:
    async def scenario(client: TestClient[Any, Any], fake: FakeDiagnosisWriter) -> None:
        text = await client.post(
            "/alertmanager", data="hello", headers={**AUTH, "Content-Type": "text/plain"}
        )
        assert text.status == 415
        assert "text/plain" in (await text.json())["error"]
        big = json.dumps({**notification(), "padding": "x" * 70_000})
        too_big = await client.post(
            "/alertmanager", data=big, headers={**AUTH, "Content-Type": "application/json"}
        )
        assert too_big.status == 413

        async def chunks() -> Any:
            for _ in range(10):
                yield b" " * 10_000

        chunked = await client.post(
            "/alertmanager", data=chunks(), headers={**AUTH, "Content-Type": "application/json"}
        )
        assert chunked.status == 413

    assert run(scenario).attempts == []


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        ("{not json", 400, "not valid JSON"),
        ("[1, 2]", 422, "JSON object"),
        (json.dumps({**notification(), "version": "3"}), 422, "version"),
        (json.dumps({k: v for k, v in notification().items() if k != "groupKey"}), 422, "groupKey"),
        (
            json.dumps(
                {
                    **notification(),
                    "alerts": [{**notification()["alerts"][0], "startsAt": "yesterday"}],
                }
            ),
            422,
            "alerts.0.startsAt",
        ),
    ],
)
def test_bad_payload_names_the_field(body: str, status: int, named: str) -> None:
    async def scenario(client: TestClient[Any, Any], fake: FakeDiagnosisWriter) -> None:
        answer = await client.post(
            "/alertmanager", data=body, headers={**AUTH, "Content-Type": "application/json"}
        )
        assert answer.status == status
        assert named in (await answer.json())["error"]

    assert run(scenario).attempts == []


def test_unroutable_alert_is_a_422_naming_the_labels() -> None:
    async def scenario(client: TestClient[Any, Any], fake: FakeDiagnosisWriter) -> None:
        answer = await client.post("/alertmanager", json=notification(job="billing"), headers=AUTH)
        assert answer.status == 422
        assert "job='billing'" in (await answer.json())["error"]

    assert run(scenario).attempts == []


def test_invalid_policy_is_a_422() -> None:
    broken = {**POLICY_OBJECT, "spec": {"components": []}}
    writer = FakeDiagnosisWriter(policies={("team-a", "shop"): broken})

    async def scenario(client: TestClient[Any, Any], fake: FakeDiagnosisWriter) -> None:
        answer = await client.post("/alertmanager", json=notification(), headers=AUTH)
        assert answer.status == 422
        assert "components" in (await answer.json())["error"]

    run(scenario, writer=writer)


def test_writer_failure_is_a_503_so_alertmanager_retries() -> None:
    writer = FakeDiagnosisWriter(policies={("team-a", "shop"): POLICY_OBJECT})
    writer.fail_with = KubernetesError(what="create Diagnosis", status=500, body="etcd down")

    async def scenario(client: TestClient[Any, Any], fake: FakeDiagnosisWriter) -> None:
        answer = await client.post("/alertmanager", json=notification(), headers=AUTH)
        assert answer.status == 503
        assert "etcd down" in (await answer.json())["error"]

    run(scenario, writer=writer)


def test_static_routing_without_policies() -> None:
    static = StaticRouting(AlertRouting(policy="shop", namespace="team-a"))

    async def scenario(client: TestClient[Any, Any], fake: FakeDiagnosisWriter) -> None:
        answer = await client.post("/alertmanager", json=notification(job="api"), headers=AUTH)
        assert answer.status == 201
        assert (await answer.json())["component"] == "api"
        other = await client.post("/alertmanager/x/y", json=notification(), headers=AUTH)
        assert other.status == 404

    run(scenario, writer=FakeDiagnosisWriter(), routing=static)


def test_healthz_and_metrics_need_no_token() -> None:
    async def scenario(client: TestClient[Any, Any], fake: FakeDiagnosisWriter) -> None:
        await client.post("/alertmanager", json=notification(), headers=AUTH)
        health = await client.get("/healthz")
        assert health.status == 200
        scraped = await client.get("/metrics")
        assert scraped.status == 200
        assert scraped.headers["Content-Type"].startswith("text/plain")
        text = await scraped.text()
        assert 'diagnosis_operator_alert_notifications_total{result="created"}' in text

    run(scenario)


def test_without_a_token_there_is_no_webhook_route() -> None:
    app = build_app(writer=None, routing=None, token=None)

    async def main() -> None:
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            answer = await client.post("/alertmanager", json=notification(), headers=AUTH)
            assert answer.status == 404
            assert (await client.get("/metrics")).status == 200

    asyncio.run(main())
    with pytest.raises(ValueError, match="writer, a routing and a token"):
        build_app(writer=FakeDiagnosisWriter(), routing=None, token=TokenSource(value="x"))


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-secret\n")
    monkeypatch.setenv("DIAG_WEBHOOK_ENABLED", "true")
    monkeypatch.setenv("DIAG_WEBHOOK_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("DIAG_WEBHOOK_NAMESPACE", "team-a")
    monkeypatch.setenv("DIAG_WEBHOOK_POLICY", "shop")
    monkeypatch.setenv("DIAG_WEBHOOK_COMPONENT_LABELS", "service, app")
    monkeypatch.setenv("DIAG_WEBHOOK_DEDUP_WINDOW", "2h")
    monkeypatch.setenv("DIAG_WEBHOOK_MODE", "dry-run")
    settings = WebhookSettings()
    routing = settings.routing_template()
    assert routing.component_labels == ("service", "app")
    assert routing.dedup_window_seconds == 7200 and routing.mode == "dry-run"
    assert (routing.namespace, routing.policy) == ("team-a", "shop")
    assert settings.token_source().accepts(b"from-secret")


def test_enabled_webhook_settings_must_be_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIAG_WEBHOOK_ENABLED", "true")
    monkeypatch.setenv("DIAG_WEBHOOK_NAMESPACE", "team-a")
    monkeypatch.setenv("DIAG_WEBHOOK_POLICY", "shop")
    with pytest.raises(ValueError, match="DIAG_WEBHOOK_TOKEN"):
        WebhookSettings()
    monkeypatch.setenv("DIAG_WEBHOOK_TOKEN", "t")
    monkeypatch.delenv("DIAG_WEBHOOK_POLICY")
    with pytest.raises(ValueError, match="DIAG_WEBHOOK_POLICY"):
        WebhookSettings()
    monkeypatch.setenv("DIAG_WEBHOOK_POLICY", "shop")
    monkeypatch.setenv("DIAG_WEBHOOK_LOOKBACK", "half an hour")
    with pytest.raises(ValueError, match="lookback"):
        WebhookSettings()
