"""The connections a DiagnosisPolicy names, built into the executor's and enricher's ports.

* MySQL: ``remediation.killMysqlQueries.connection`` (the account kills run as)
  or, for enrichment and as the kill fallback, the component's ``mysql``; the
  Secret's keys become ``MySQLConnectionSettings`` (``adapters.mysql``).
* Redis: the component's ``redis.url`` or the URL in its Secret.
* Rate limits: ``remediation.rateLimitClient.params`` names the provider and where
  its objects live; the backend writes through an ``ObjectStore``.

Secrets are read with ``secrets(namespace, name)`` (the Secret's ``data``, base64
values), in the policy's namespace unless the reference names another.  Errors
say which Secret and key, never a value.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kubernetes import client
from pydantic import SecretStr, ValidationError

from diagnosis_operator.adapters.kubernetes.cluster import ConfigMapDocument, KubernetesCluster
from diagnosis_operator.adapters.kubernetes.objects import KubernetesObjectStore, SecretReader
from diagnosis_operator.adapters.kubernetes.writer import KubernetesDiagnosisWriter
from diagnosis_operator.adapters.mysql import (
    MySQLConnectionSettings,
    PyMySQLAdmin,
    settings_from_secret_data,
)
from diagnosis_operator.adapters.redis import RedisAdapter
from diagnosis_operator.adapters.traffic.envoy_gateway import EnvoyGatewayBackend, PolicyTarget
from diagnosis_operator.adapters.traffic.istio import IstioBackend
from diagnosis_operator.adapters.traffic.nginx import ConfigMapSink, NginxBackend
from diagnosis_operator.api import (
    ConnectionSecretRef,
    DiagnosisPolicySpec,
    MySQLConnection,
    RedisConnection,
    TrafficProvider,
    TrafficTargetRef,
)
from diagnosis_operator.core.diagnosis.enrich import DEFAULT_THRESHOLDS, EnrichThresholds
from diagnosis_operator.core.remediation.ledger import GlobalBudget
from diagnosis_operator.entrypoints.bootstrap.enrichment import EnrichmentSettings
from diagnosis_operator.models.findings import DiagnosisResult
from diagnosis_operator.ports import MySQLAdmin, ObjectStore, TrafficPolicyBackend
from diagnosis_operator.service.enrich import enrich_diagnosis
from diagnosis_operator.service.remediate import (
    ActionPorts,
    DrainMethod,
    ExecutorSettings,
    PortUnavailable,
    checkpoint_from_dir,
)
from diagnosis_operator.settings import OperatorSettings

SecretData = Callable[[str, str], Mapping[str, str]]
REDIS_URL_KEY = "url"


def _secret(secrets: SecretData, ref: ConnectionSecretRef, namespace: str) -> Mapping[str, str]:
    where = ref.namespace or namespace
    try:
        return secrets(where, ref.name)
    except Exception as error:
        raise PortUnavailable(f"cannot read Secret {where}/{ref.name}: {error}") from error


def mysql_settings(
    *, connection: MySQLConnection, namespace: str, secrets: SecretData
) -> MySQLConnectionSettings:
    """The settings in a MySQL connection's Secret; ``PortUnavailable`` says what is wrong."""
    ref = connection.secret_ref
    data = _secret(secrets, ref, namespace)
    try:
        return settings_from_secret_data(
            data=data, source=f"Secret {ref.namespace or namespace}/{ref.name}"
        )
    except ValueError as error:
        raise PortUnavailable(str(error)) from error


def redis_url(*, connection: RedisConnection, namespace: str, secrets: SecretData) -> str:
    if connection.url is not None:
        return connection.url
    ref = connection.secret_ref
    assert ref is not None  # the model requires one of the two
    key = ref.key or REDIS_URL_KEY
    raw = _secret(secrets, ref, namespace).get(key)
    where = f"Secret {ref.namespace or namespace}/{ref.name}"
    if raw is None:
        raise PortUnavailable(f"{where}: missing key {key!r}")
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8").strip()
    except (binascii.Error, ValueError):
        raise PortUnavailable(f"{where}: key {key!r} is not base64-encoded UTF-8") from None


@dataclass
class MySQLPorts:
    """component -> ``MySQLAdmin`` for kill-mysql-queries (one connection per component)."""

    policy: DiagnosisPolicySpec
    namespace: str
    secrets: SecretData
    make: Callable[[MySQLConnectionSettings, str], MySQLAdmin] = field(
        default=lambda settings, name: PyMySQLAdmin(settings=settings, name=name)
    )
    _open: dict[str, MySQLAdmin] = field(default_factory=dict)

    def __call__(self, component: str) -> MySQLAdmin:
        if component in self._open:
            return self._open[component]
        connection = self.policy.remediation.kill_mysql_queries.connection
        if connection is None:
            configured = next((c for c in self.policy.components if c.name == component), None)
            connection = configured.mysql if configured is not None else None
        if connection is None:
            raise PortUnavailable(
                f"no MySQL connection for {component}: set "
                "remediation.killMysqlQueries.connection or the component's mysql.secretRef"
            )
        settings = mysql_settings(
            connection=connection, namespace=self.namespace, secrets=self.secrets
        )
        admin = self.make(settings, component)
        self._open[component] = admin
        return admin

    def close(self) -> None:
        for admin in self._open.values():
            close = getattr(admin, "close", None)
            if callable(close):
                close()
        self._open.clear()


def _target(ref: TrafficTargetRef) -> PolicyTarget:
    return PolicyTarget(kind=ref.kind.value, name=ref.name, section_name=ref.section_name)


def traffic_backend(
    *, policy: DiagnosisPolicySpec, namespace: str, store: ObjectStore
) -> TrafficPolicyBackend:
    """The rate-limit backend the policy configures; ``PortUnavailable`` if incomplete."""
    params = policy.remediation.rate_limit_client.params
    missing = params.missing()
    if missing is not None:
        raise PortUnavailable(missing)
    where = params.namespace or namespace
    if params.provider is TrafficProvider.ENVOY_GATEWAY:
        assert params.target_ref is not None
        return EnvoyGatewayBackend(
            store=store, namespace=where, targets=[_target(params.target_ref)]
        )
    if params.provider is TrafficProvider.ISTIO:
        return IstioBackend(
            store=store,
            namespace=where,
            selector=params.selector,
            target=_target(params.target_ref) if params.target_ref is not None else None,
        )
    assert params.config_map is not None
    return NginxBackend(
        sink=ConfigMapSink(store=store, namespace=where, name=params.config_map),
        namespace=where,
        configmap=params.config_map,
        burst=params.burst or 0,
    )


def enrichment_settings(
    *, policy: DiagnosisPolicySpec, namespace: str, secrets: SecretData, timeout: float = 10.0
) -> tuple[list[EnrichmentSettings], list[str]]:
    """One ``EnrichmentSettings`` per component with a connection, and what went wrong.

    A connection that cannot be built is a warning (enrichment never fails a
    diagnosis); the others are still used.
    """
    found: list[EnrichmentSettings] = []
    problems: list[str] = []
    for component in policy.components:
        try:
            if component.mysql is not None:
                found.append(
                    EnrichmentSettings(
                        mysql=mysql_settings(
                            connection=component.mysql, namespace=namespace, secrets=secrets
                        ),
                        mysql_component=component.name,
                        timeout_seconds=timeout,
                    )
                )
            if component.redis is not None:
                url = redis_url(connection=component.redis, namespace=namespace, secrets=secrets)
                found.append(
                    EnrichmentSettings(
                        redis_url=SecretStr(url),
                        redis_component=component.name,
                        timeout_seconds=timeout,
                    )
                )
        except PortUnavailable as error:
            problems.append(f"enrich: {component.name}: {error}")
        except ValidationError as error:
            # Never the error's text: it would quote the input, a URL with its password.
            reasons = "; ".join(str(e["msg"]) for e in error.errors())
            problems.append(f"enrich: {component.name}: invalid connection settings: {reasons}")
    return found, problems


def make_policy_enricher(
    *, settings: list[EnrichmentSettings]
) -> Callable[[DiagnosisResult], DiagnosisResult] | None:
    """One ``result -> result`` step asking every configured server in turn (None: none)."""
    steps = [make_enricher(settings=one) for one in settings if one.configured]
    if not steps:
        return None

    def run(result: DiagnosisResult) -> DiagnosisResult:
        for step in steps:
            result = step(result)
        return result

    return run


# ----------------------------------------------------------------------------------------
# The remediation executor's adapters (built for entrypoints/kopf/remediation.py)


def executor_cluster(
    *, configuration: client.Configuration, settings: OperatorSettings
) -> tuple[KubernetesCluster, ConfigMapDocument]:
    """The executor's ``Cluster`` and the ledger's document, on one apiserver client."""
    api = client.ApiClient(configuration)
    return (
        KubernetesCluster(
            api_client=api,
            operator_namespace=settings.operator_namespace,
            namespaces=settings.namespaces,
        ),
        ConfigMapDocument(api_client=api, namespace=settings.operator_namespace),
    )


def executor_settings(settings: OperatorSettings) -> ExecutorSettings:
    """The executor's settings: global budget, protected namespaces, drain method, test hook."""
    directory: Path | None = settings.test_checkpoint_dir
    return ExecutorSettings(
        budget=GlobalBudget(
            max_actions=settings.global_budget_max_actions,
            window_seconds=settings.global_budget_window,
            retention_seconds=max(7 * 86400.0, settings.global_budget_window),
            max_entries=max(2000, settings.global_budget_max_actions),
        ),
        protected_namespaces=(*settings.protected_namespaces, settings.operator_namespace),
        drain_method=DrainMethod(settings.drain_method),
        checkpoint=checkpoint_from_dir(directory) if directory is not None else None,
    )


def secret_data(configuration: client.Configuration) -> SecretData:
    """``secrets(namespace, name)``: a Secret's data, read through the apiserver."""
    reader = SecretReader(api_client=client.ApiClient(configuration))
    return lambda namespace, name: reader.data(namespace=namespace, name=name)


@contextlib.contextmanager
def action_ports(
    *, configuration: client.Configuration, policy: DiagnosisPolicySpec, namespace: str
) -> Iterator[ActionPorts]:
    """The MySQL and traffic ports of one policy; MySQL connections closed afterwards."""
    mysql = MySQLPorts(policy=policy, namespace=namespace, secrets=secret_data(configuration))
    api = client.ApiClient(configuration)

    def traffic() -> TrafficPolicyBackend:
        return traffic_backend(
            policy=policy, namespace=namespace, store=KubernetesObjectStore(api_client=api)
        )

    try:
        yield ActionPorts(mysql=mysql, traffic=traffic)
    finally:
        mysql.close()


# --------------------------------------------------------------------- enrichment probes
# (the direct-observation adapters, built here; moved from service/enrich.py)


def make_enricher(
    *,
    settings: EnrichmentSettings,
    thresholds: EnrichThresholds = DEFAULT_THRESHOLDS,
) -> Callable[[DiagnosisResult], DiagnosisResult]:
    """A ``result -> result`` step asking the configured servers (identity if none is).

    Connections are opened per call and closed after it, with socket timeouts no
    longer than the time budget.
    """

    def run(result: DiagnosisResult) -> DiagnosisResult:
        if not settings.configured:
            return result
        budget = settings.timeout_seconds
        mysql: PyMySQLAdmin | None = None
        redis: RedisAdapter | None = None
        if settings.mysql is not None:
            bounded = settings.mysql.model_copy(
                update={
                    "connect_timeout": min(settings.mysql.connect_timeout, budget),
                    "read_timeout": min(settings.mysql.read_timeout, budget),
                }
            )
            mysql = PyMySQLAdmin(settings=bounded, name=settings.mysql_component or "mysql")
        if settings.redis_url is not None:
            redis = RedisAdapter(
                url=settings.redis_url.get_secret_value(), timeout=min(5.0, budget)
            )
        return enrich_diagnosis(
            result=result,
            settings=settings,
            mysql=mysql,
            redis=redis,
            thresholds=thresholds,
            close_probes=True,
        )

    return run


def diagnosis_writer(configuration: client.Configuration) -> KubernetesDiagnosisWriter:
    """The webhook's writer: creates Diagnoses, reads DiagnosisPolicies."""
    return KubernetesDiagnosisWriter(api_client=client.ApiClient(configuration))


def object_store(configuration: client.Configuration) -> ObjectStore:
    """Namespaced objects on the apiserver (a policy's PrometheusRule, traffic objects)."""
    return KubernetesObjectStore(api_client=client.ApiClient(configuration))
