"""Live signal sources for one diagnosis: the policy's, else the operator's defaults.

Endpoints come from the policy (credentials read from its Secrets through
``bootstrap.secrets.resolve_secret``: a token is sent only to an origin on the
admin's credential allow list) or from the operator's settings.  Before the
engine runs, each source is probed once: a source that does not answer HTTP at
all is "unreachable" (the handler retries, then fails naming the URL); any HTTP
answer, even an error status, is left for the engine to report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from diagnosis_operator.adapters.loki import LokiClient, LokiLogSource
from diagnosis_operator.adapters.prometheus import PrometheusAdapter
from diagnosis_operator.api import DiagnosisPolicySpec, SecretKeyRef, parse_duration
from diagnosis_operator.entrypoints.bootstrap.secrets import resolve_secret, secret_text
from diagnosis_operator.entrypoints.kopf.kube import Kube
from diagnosis_operator.models.tenancy import STRICT_RULES, TenancyRules
from diagnosis_operator.ports import LogSource, PromQLSource, SeriesSource
from diagnosis_operator.settings import OperatorSettings

PROBE_TIMEOUT = 10.0


class SourceConfigError(ValueError):
    """No URL configured, a Secret that cannot be read, or an adapter missing."""


class SourceUnreachable(ConnectionError):
    """A source did not answer: says which one, its URL and the error."""


@dataclass(frozen=True)
class Endpoint:
    backend: str  # "prometheus" | "loki"
    url: str
    timeout: float
    token: str | None = None
    tenant: str | None = None


@dataclass(frozen=True)
class Sources:
    series: SeriesSource
    logs: LogSource
    endpoints: tuple[Endpoint, ...]
    # Arbitrary PromQL (a policy's signalOverrides); None: not offered.
    promql: PromQLSource | None = None


def resolve_endpoints(
    *,
    policy: DiagnosisPolicySpec,
    namespace: str,
    settings: OperatorSettings,
    kube: Kube,
    rules: TenancyRules = STRICT_RULES,
) -> tuple[Endpoint, Endpoint]:
    """Prometheus and Loki endpoints with their credentials read from Secrets."""
    loki = policy.signals.loki
    prom = prometheus_endpoint(
        policy=policy, namespace=namespace, settings=settings, kube=kube, rules=rules
    )
    if prom is None:
        raise SourceConfigError(
            "no Prometheus URL: set spec.signals.prometheus.url in the policy "
            "or DIAG_PROMETHEUS_URL"
        )
    if loki is not None:
        logs = Endpoint(
            backend="loki",
            url=loki.url.rstrip("/"),
            timeout=parse_duration(loki.timeout),
            token=_secret(
                kube, namespace, loki.auth_secret_ref, rules=rules, url=loki.url, source="loki"
            ),
            tenant=loki.tenant,
        )
    elif settings.loki_url is not None:
        logs = Endpoint(
            backend="loki",
            url=settings.loki_url,
            timeout=settings.loki_timeout,
            token=_file(settings.loki_token_file),
            tenant=settings.loki_tenant,
        )
    else:
        raise SourceConfigError(
            "no Loki URL: set spec.signals.loki.url in the policy or DIAG_LOKI_URL"
        )
    return prom, logs


def prometheus_endpoint(
    *,
    policy: DiagnosisPolicySpec,
    namespace: str,
    settings: OperatorSettings,
    kube: Kube,
    rules: TenancyRules = STRICT_RULES,
) -> Endpoint | None:
    """The policy's Prometheus, else the operator's, else None; credentials read."""
    prometheus = policy.signals.prometheus
    if prometheus is not None:
        return Endpoint(
            backend="prometheus",
            url=prometheus.url.rstrip("/"),
            timeout=parse_duration(prometheus.timeout),
            token=_secret(
                kube,
                namespace,
                prometheus.auth_secret_ref,
                rules=rules,
                url=prometheus.url,
                source="prometheus",
            ),
        )
    if settings.prometheus_url is not None:
        return Endpoint(
            backend="prometheus",
            url=settings.prometheus_url,
            timeout=settings.prometheus_timeout,
            token=_file(settings.prometheus_token_file),
        )
    return None


def prometheus_adapter(endpoint: Endpoint) -> PrometheusAdapter:
    """A ``PrometheusAdapter`` for ``endpoint``."""
    return PrometheusAdapter(
        url=endpoint.url, timeout=endpoint.timeout, bearer_token=endpoint.token
    )


def _secret(
    kube: Kube,
    namespace: str,
    ref: SecretKeyRef | None,
    *,
    rules: TenancyRules,
    url: str,
    source: str,
) -> str | None:
    """The bearer token of a policy's source, through the one secret resolver."""
    if ref is None:
        return None
    try:
        data = resolve_secret(
            read=kube.secret_data,
            rules=rules,
            policy_namespace=namespace,
            name=ref.name,
            namespace=None,
            field=f"spec.signals.{source}.authSecretRef",
            sent_to=url,
            sent_to_field=f"spec.signals.{source}.url",
        )
        return secret_text(data, key=ref.key, where=f"Secret {namespace}/{ref.name}")
    except Exception as error:
        raise SourceConfigError(f"cannot read the source's credentials: {error}") from error


def _file(path: Any) -> str | None:
    if path is None:
        return None
    try:
        return str(path.read_text(encoding="utf-8")).strip()
    except OSError as error:
        raise SourceConfigError(f"cannot read token file {path}: {error}") from error


def probe(endpoint: Endpoint) -> None:
    """Raise ``SourceUnreachable`` unless ``endpoint`` answers HTTP at all."""
    headers = {"Authorization": f"Bearer {endpoint.token}"} if endpoint.token else {}
    if endpoint.tenant:
        headers["X-Scope-OrgID"] = endpoint.tenant
    try:
        requests.get(
            endpoint.url + "/", headers=headers, timeout=min(PROBE_TIMEOUT, endpoint.timeout)
        ).close()
    except requests.RequestException as error:
        raise SourceUnreachable(
            f"{endpoint.backend} at {endpoint.url} is unreachable: {error}"
        ) from error


def build_sources(*, prometheus: Endpoint, loki: Endpoint) -> Sources:
    """The adapters for the two endpoints."""
    logs = LokiLogSource(
        LokiClient(loki.url, tenant=loki.tenant, bearer_token=loki.token, timeout=loki.timeout)
    )
    series = prometheus_adapter(prometheus)
    return Sources(series=series, logs=logs, endpoints=(prometheus, loki), promql=series)


def open_signal_sources(
    *,
    policy: DiagnosisPolicySpec,
    namespace: str,
    settings: OperatorSettings,
    kube: Kube,
    rules: TenancyRules = STRICT_RULES,
) -> Sources:
    """Resolve, build and probe a diagnosis's sources (the handlers' one call).

    Raises ``SourceConfigError`` (nothing configured, a Secret unreadable) or
    ``SourceUnreachable`` (a source that does not answer HTTP at all).
    """
    prometheus, loki = resolve_endpoints(
        policy=policy, namespace=namespace, settings=settings, kube=kube, rules=rules
    )
    sources = build_sources(prometheus=prometheus, loki=loki)
    for endpoint in sources.endpoints:
        probe(endpoint)
    return sources
