"""Notification sinks of a policy, built into ``NotificationPort`` adapters.

Two rules hold for every sink (docs/notifications.md):

* Its Secrets (``urlSecretRef``, ``authSecretRef``) are read in the policy's own
  namespace, through ``sink_secret``, the one place a sink's Secret is resolved.
* A sink that would carry credentials (a URL read from a Secret, or a bearer
  token) is only built when its URL is on the administrator's allow list,
  ``DIAG_NOTIFY_ALLOWED_URLS`` (chart: ``notifications.allowedUrls``), checked by
  ``credential_url_allowed``.  Empty list: no credentialed sink is sent to.

The operator-wide settings (``DIAG_NOTIFY_*``) are read once at start.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Annotated, Any, Protocol

from kubernetes import client
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from diagnosis_operator.adapters.kubernetes.reports import KubernetesReportSource
from diagnosis_operator.adapters.notify import HttpNotificationSink
from diagnosis_operator.api import NotificationSink, SecretKeyRef, parse_duration
from diagnosis_operator.core.tenancy import credential_refusal
from diagnosis_operator.entrypoints.bootstrap.secrets import resolve_secret, secret_text
from diagnosis_operator.models.tenancy import STRICT_RULES, TenancyRules
from diagnosis_operator.ports import NotificationPort
from diagnosis_operator.service.notify import SinkUnavailable
from diagnosis_operator.service.remediate import PortUnavailable


class NotifySettings(BaseSettings):
    """``DIAG_NOTIFY_*``: where the report link points, which URLs may get credentials."""

    model_config = SettingsConfigDict(env_prefix="DIAG_NOTIFY_", extra="forbid", frozen=True)

    # The operator's HTTP server as people reach it (an Ingress, a proxy in front of it):
    # a notification links to <reportBaseUrl>/reports/<namespace>/<name>.  None: no link.
    report_base_url: str | None = Field(default=None, pattern=r"^https?://")
    # URL prefixes (scheme://host[:port][/path]) a sink with credentials may be sent to.
    allowed_urls: Annotated[tuple[str, ...], NoDecode] = ()
    retries: int = Field(default=2, ge=0, le=5)

    @field_validator("allowed_urls", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("allowed_urls")
    @classmethod
    def _http_prefixes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for prefix in value:
            parts = urllib.parse.urlsplit(prefix)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"allowed URL {prefix!r} is not an http(s) URL with a host")
        return value


class SecretKeys(Protocol):
    def secret_data(self, namespace: str, name: str) -> Mapping[str, str]: ...


def sink_secret(
    kube: SecretKeys, *, namespace: str, ref: SecretKeyRef, field: str, rules: TenancyRules
) -> str:
    """A key of a sink's Secret, through the one resolver of the tenancy rules."""
    try:
        data = resolve_secret(
            read=kube.secret_data,
            rules=rules,
            policy_namespace=namespace,
            name=ref.name,
            namespace=None,
            field=field,
        )
        return secret_text(data, key=ref.key, where=f"{field}: Secret {namespace}/{ref.name}")
    except PortUnavailable as error:
        raise SinkUnavailable(str(error)) from None


def _origin(url: str) -> tuple[str, str, int | None, str]:
    parts = urllib.parse.urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port, parts.path or "/"


def credential_url_allowed(url: str, allowed: tuple[str, ...]) -> bool:
    """Same scheme, host and port as an allowed prefix, and a path under its path."""
    try:
        scheme, host, port, path = _origin(url)
    except ValueError:
        return False
    if urllib.parse.urlsplit(url).username is not None:
        return False
    for prefix in allowed:
        p_scheme, p_host, p_port, p_path = _origin(prefix)
        if (scheme, host, port) != (p_scheme, p_host, p_port):
            continue
        base = p_path if p_path.endswith("/") else p_path + "/"
        if path == p_path or path.startswith(base):
            return True
    return False


def open_sink(
    sink: NotificationSink,
    *,
    namespace: str,
    kube: SecretKeys,
    settings: NotifySettings,
    rules: TenancyRules = STRICT_RULES,
) -> NotificationPort:
    """The adapter for one sink of a policy in ``namespace``; ``SinkUnavailable`` if not."""
    where = f"notifications[{sink.name}]"
    if sink.url_secret_ref is not None:
        url = sink_secret(
            kube,
            namespace=namespace,
            ref=sink.url_secret_ref,
            field=f"{where}.urlSecretRef",
            rules=rules,
        )
        if not url.startswith(("http://", "https://")):
            raise SinkUnavailable(f"{where}.urlSecretRef: the Secret's value is not an http(s) URL")
    else:
        assert sink.url is not None  # the model requires one of the two
        url = sink.url
    token = (
        sink_secret(
            kube,
            namespace=namespace,
            ref=sink.auth_secret_ref,
            field=f"{where}.authSecretRef",
            rules=rules,
        )
        if sink.auth_secret_ref is not None
        else None
    )
    secret_url = sink.url_secret_ref is not None
    allowed = (
        credential_url_allowed(url, settings.allowed_urls)
        or credential_refusal(rules, url=url, field=where) is None
    )
    if (secret_url or token is not None) and not allowed:
        shown = "the URL in its Secret" if secret_url else url
        raise SinkUnavailable(
            f"{where}: {shown} is on neither of the admin's allow lists (chart "
            "notifications.allowedUrls, tenancy.credentialUrls); "
            "a sink with credentials is only sent to an allowed URL"
        )
    return HttpNotificationSink(
        name=sink.name,
        url=url,
        timeout=parse_duration(sink.timeout),
        token=token,
        url_is_secret=secret_url,
        retries=settings.retries,
    )


def report_source(configuration: client.Configuration) -> KubernetesReportSource:
    """The saved reports the HTTP server renders (``GET /reports/...``)."""
    return KubernetesReportSource(api_client=client.ApiClient(configuration))
