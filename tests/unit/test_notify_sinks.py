"""Notification sinks over real HTTP on loopback, how they are built, and the service.

The HTTP adapter against a recording receiver (tests/fakes/receiver.py); the
bootstrap's Secret and allow-list rules with a fake Secret reader; ``notify``
recording what it sent so nothing is sent twice.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import pytest

from diagnosis_operator.adapters.notify import HttpNotificationSink
from diagnosis_operator.api import NotificationResult, NotificationSink, NotificationStatus
from diagnosis_operator.entrypoints.bootstrap.notifications import (
    NotifySettings,
    credential_url_allowed,
    open_sink,
)
from diagnosis_operator.ports import NotificationError, NotificationPort
from diagnosis_operator.service.notify import SinkUnavailable, notify
from tests.fakes.notify import FakeSink
from tests.fakes.receiver import Receiver
from tests.unit.test_notify_messages import facts


class Secrets:
    """``secret_data`` over a dict (values base64-encoded as the API serves them);
    records which namespace and key were asked."""

    def __init__(self, data: Mapping[tuple[str, str, str], str]) -> None:
        self.data = dict(data)
        self.asked: list[tuple[str, str, str]] = []

    def secret_data(self, namespace: str, name: str) -> dict[str, str]:
        found = {
            key: base64.b64encode(value.encode()).decode()
            for (ns, secret, key), value in self.data.items()
            if (ns, secret) == (namespace, name)
        }
        self.asked.extend((namespace, name, key) for key in found or {"?": ""})
        if not found:
            raise LookupError(f"secret {namespace}/{name} not found")
        return found


def sink(**spec: Any) -> NotificationSink:
    return NotificationSink.model_validate({"name": "team", "kind": "webhook", **spec})


def test_the_adapter_posts_json_with_content_type_and_token() -> None:
    with Receiver() as receiver:
        port = HttpNotificationSink(name="team", url=receiver.url + "/hook", token="t0k")
        port.send(path="", content_type="application/cloudevents+json", body={"a": "ü"})
        port.close()
    [got] = receiver.received
    assert got.path == "/hook"
    assert got.body == {"a": "ü"}
    assert got.headers["Content-Type"] == "application/cloudevents+json"
    assert got.headers["Authorization"] == "Bearer t0k"


def test_an_error_status_is_not_retried_and_names_the_sink_and_status() -> None:
    with Receiver(status=500) as receiver:
        port = HttpNotificationSink(name="team", url=receiver.url, backoff=0.0)
        with pytest.raises(NotificationError, match=r"sink team .* answered HTTP 500: receiver"):
            port.send(path="/api/v2/silences", content_type="application/json", body={})
    assert len(receiver.received) == 1  # a POST is not repeated: Slack would show it twice


def test_a_refused_connection_is_an_error_that_hides_a_secret_url() -> None:
    with Receiver() as receiver:
        url = receiver.url + "/services/T000/B000/XXXXSECRET"
    port = HttpNotificationSink(
        name="slack", url=url, url_is_secret=True, retries=1, backoff=0.0, timeout=2.0
    )
    with pytest.raises(NotificationError) as caught:
        port.send(path="", content_type="application/json", body={})
    assert "sink slack (URL from its Secret)" in str(caught.value)
    assert "XXXXSECRET" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.slack.com/services/T/B/X", True),
        ("https://hooks.slack.com:443/services/T", True),
        ("https://hooks.slack.com/servicesX/T", False),
        ("https://hooks.slack.com.evil.example/services/T", False),
        ("http://hooks.slack.com/services/T", False),
        ("https://user@hooks.slack.com/services/T", False),
        ("https://hooks.slack.com:8443/services/T", False),
        ("https://events.example.org/any/path", True),
    ],
)
def test_credential_urls_must_match_an_allowed_prefix(url: str, allowed: bool) -> None:
    prefixes = ("https://hooks.slack.com/services/", "https://events.example.org")
    assert credential_url_allowed(url, prefixes) is allowed


def test_sink_secrets_are_read_in_the_policy_namespace_and_need_an_allowed_url() -> None:
    secrets = Secrets({("shop", "slack", "url"): "https://hooks.slack.com/services/T/B/X"})
    spec = sink(kind="slack", urlSecretRef={"name": "slack"})
    with pytest.raises(SinkUnavailable, match="on neither of the admin's allow lists"):
        open_sink(spec, namespace="shop", kube=secrets, settings=NotifySettings())
    allowed = NotifySettings(allowed_urls=("https://hooks.slack.com/services/",))
    port = open_sink(spec, namespace="shop", kube=secrets, settings=allowed)
    assert isinstance(port, HttpNotificationSink) and port.url_is_secret
    assert secrets.asked == [("shop", "slack", "url")] * 2


def test_a_bearer_token_makes_a_plain_url_subject_to_the_allow_list() -> None:
    secrets = Secrets({("shop", "hook", "token"): "t0k"})
    spec = sink(url="http://127.0.0.1:9/events", authSecretRef={"name": "hook"})
    with pytest.raises(SinkUnavailable, match=r"http://127.0.0.1:9/events is on neither"):
        open_sink(spec, namespace="shop", kube=secrets, settings=NotifySettings())
    plain = open_sink(
        sink(url="http://127.0.0.1:9/events"),
        namespace="shop",
        kube=secrets,
        settings=NotifySettings(),
    )
    assert isinstance(plain, HttpNotificationSink) and plain.token is None


def test_a_missing_secret_names_the_field_and_the_secret() -> None:
    spec = sink(kind="slack", urlSecretRef={"name": "gone"})
    with pytest.raises(SinkUnavailable, match=r"notifications\[team\]\.urlSecretRef: .*shop/gone"):
        open_sink(spec, namespace="shop", kube=Secrets({}), settings=NotifySettings())


def test_notify_sends_what_is_due_records_it_and_never_raises() -> None:
    ports: dict[str, NotificationPort] = {
        "ok": FakeSink(),
        "broken": FakeSink(NotificationError("sink broken answered HTTP 500: no")),
    }
    sinks = [sink(name="ok", url="http://a"), sink(name="broken", url="http://b")]
    recorded: list[list[NotificationStatus]] = []
    added = notify(
        sinks=sinks,
        facts=facts(),
        sent=[],
        open_sink=lambda s: ports[s.name],
        now=0.0,
        record=recorded.append,
    )
    assert [(a.sink, a.result) for a in added] == [
        ("ok", NotificationResult.SENT),
        ("broken", NotificationResult.FAILED),
    ]
    assert "HTTP 500" in added[1].message
    assert len(recorded) == 2 and recorded[-1] == added
    again = notify(
        sinks=sinks,
        facts=facts(),
        sent=added,
        open_sink=lambda s: ports[s.name],
        now=1.0,
        record=recorded.append,
    )
    assert again == []
    ok = ports["ok"]
    assert isinstance(ok, FakeSink) and len(ok.sent) == 1
