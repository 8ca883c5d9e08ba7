"""The connections a DiagnosisPolicy names, built into the executor's and enricher's ports.

* MySQL: ``remediation.killMysqlQueries.connection`` (the account kills run as)
  or, for enrichment and as the kill fallback, the component's ``mysql``; the
  Secret's keys become ``MySQLConnectionSettings`` (``adapters.mysql``).
* Redis: the component's ``redis.url`` or the URL in its Secret.
* Rate limits: ``remediation.rateLimitClient.params`` names the provider and where
  its objects live; the backend writes through an ``ObjectStore``.

Secrets are read with ``secrets(namespace, name)`` (the Secret's ``data``, base64
values) through ``bootstrap.secrets.resolve_secret``: in the policy's namespace,
or another only if the admin's tenancy rules grant it.  Rate-limit objects are
written only where those rules allow.  Errors name the policy field and say which
Secret and key, never a value.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kubernetes import client
from pydantic import SecretStr, ValidationError

from diagnosis_operator.adapters.kubernetes.cluster import ConfigMapDocument, KubernetesCluster
from diagnosis_operator.adapters.kubernetes.objects import (
    ConfigMapReader,
    KubernetesObjectStore,
    SecretReader,
)
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
from diagnosis_operator.core.tenancy import write_refusal
from diagnosis_operator.entrypoints.bootstrap.enrichment import EnrichmentSettings
from diagnosis_operator.entrypoints.bootstrap.secrets import (
    SecretData,
    SecretRefused,
    load_tenancy,
    resolve_secret,
    secret_text,
)
from diagnosis_operator.models.findings import DiagnosisResult
from diagnosis_operator.models.tenancy import STRICT_RULES, TenancyRules
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

REDIS_URL_KEY = "url"


def _secret(
    secrets: SecretData,
    ref: ConnectionSecretRef,
    *,
    namespace: str,
    rules: TenancyRules,
    field: str,
) -> Mapping[str, str]:
    return resolve_secret(
        read=secrets,
        rules=rules,
        policy_namespace=namespace,
        name=ref.name,
        namespace=ref.namespace,
        field=field,
    )


def mysql_settings(
    *,
    connection: MySQLConnection,
    namespace: str,
    secrets: SecretData,
    rules: TenancyRules = STRICT_RULES,
    field: str = "mysql.secretRef",
) -> MySQLConnectionSettings:
    """The settings in a MySQL connection's Secret; ``PortUnavailable`` says what is wrong."""
    ref = connection.secret_ref
    data = _secret(secrets, ref, namespace=namespace, rules=rules, field=field)
    try:
        return settings_from_secret_data(
            data=data, source=f"Secret {ref.namespace or namespace}/{ref.name}"
        )
    except ValueError as error:
        raise PortUnavailable(str(error)) from error


def redis_url(
    *,
    connection: RedisConnection,
    namespace: str,
    secrets: SecretData,
    rules: TenancyRules = STRICT_RULES,
    field: str = "redis.secretRef",
) -> str:
    if connection.url is not None:
        return connection.url
    ref = connection.secret_ref
    assert ref is not None  # the model requires one of the two
    data = _secret(secrets, ref, namespace=namespace, rules=rules, field=field)
    return secret_text(
        data, key=ref.key or REDIS_URL_KEY, where=f"Secret {ref.namespace or namespace}/{ref.name}"
    )


@dataclass
class MySQLPorts:
    """component -> ``MySQLAdmin`` for kill-mysql-queries (one connection per component)."""

    policy: DiagnosisPolicySpec
    namespace: str
    secrets: SecretData
    rules: TenancyRules = STRICT_RULES
    make: Callable[[MySQLConnectionSettings, str], MySQLAdmin] = field(
        default=lambda settings, name: PyMySQLAdmin(settings=settings, name=name)
    )
    _open: dict[str, MySQLAdmin] = field(default_factory=dict)

    def __call__(self, component: str) -> MySQLAdmin:
        if component in self._open:
            return self._open[component]
        connection = self.policy.remediation.kill_mysql_queries.connection
        field = "spec.remediation.killMysqlQueries.connection.secretRef"
        if connection is None:
            index, configured = next(
                ((i, c) for i, c in enumerate(self.policy.components) if c.name == component),
                (0, None),
            )
            connection = configured.mysql if configured is not None else None
            field = f"spec.components[{index}].mysql.secretRef"
        if connection is None:
            raise PortUnavailable(
                f"no MySQL connection for {component}: set "
                "remediation.killMysqlQueries.connection or the component's mysql.secretRef"
            )
        settings = mysql_settings(
            connection=connection,
            namespace=self.namespace,
            secrets=self.secrets,
            rules=self.rules,
            field=field,
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
    *,
    policy: DiagnosisPolicySpec,
    namespace: str,
    store: ObjectStore,
    rules: TenancyRules = STRICT_RULES,
) -> TrafficPolicyBackend:
    """The rate-limit backend the policy configures; ``PortUnavailable`` if incomplete
    or if it would write outside the namespaces the admin allows this policy."""
    params = policy.remediation.rate_limit_client.params
    missing = params.missing()
    if missing is not None:
        raise PortUnavailable(missing)
    where = params.namespace or namespace
    refusal = write_refusal(
        rules,
        policy_namespace=namespace,
        namespace=where,
        field="spec.remediation.rateLimitClient.params.namespace",
    )
    if refusal is not None:
        raise SecretRefused(refusal)
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
    *,
    policy: DiagnosisPolicySpec,
    namespace: str,
    secrets: SecretData,
    rules: TenancyRules = STRICT_RULES,
    timeout: float = 10.0,
) -> tuple[list[EnrichmentSettings], list[str]]:
    """One ``EnrichmentSettings`` per component with a connection, and what went wrong.

    A connection that cannot be built is a warning (enrichment never fails a
    diagnosis); the others are still used.
    """
    found: list[EnrichmentSettings] = []
    problems: list[str] = []
    for index, component in enumerate(policy.components):
        field = f"spec.components[{index}]"
        try:
            if component.mysql is not None:
                found.append(
                    EnrichmentSettings(
                        mysql=mysql_settings(
                            connection=component.mysql,
                            namespace=namespace,
                            secrets=secrets,
                            rules=rules,
                            field=f"{field}.mysql.secretRef",
                        ),
                        mysql_component=component.name,
                        timeout_seconds=timeout,
                    )
                )
            if component.redis is not None:
                url = redis_url(
                    connection=component.redis,
                    namespace=namespace,
                    secrets=secrets,
                    rules=rules,
                    field=f"{field}.redis.secretRef",
                )
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


def executor_settings(
    settings: OperatorSettings, rules: TenancyRules = STRICT_RULES
) -> ExecutorSettings:
    """The executor's settings: global budget, protected namespaces, drain method, test hook,
    and the admin's guard caps (the tighter of the settings and the tenancy configuration)."""
    directory: Path | None = settings.test_checkpoint_dir
    caps = rules.caps
    max_actions = settings.global_budget_max_actions
    if caps.global_max_actions is not None:
        max_actions = min(max_actions, caps.global_max_actions)
    window = max(settings.global_budget_window, caps.global_window_seconds or 0.0)
    return ExecutorSettings(
        budget=GlobalBudget(
            max_actions=max_actions,
            window_seconds=window,
            retention_seconds=max(7 * 86400.0, window),
            max_entries=max(2000, max_actions),
        ),
        protected_namespaces=(
            *settings.protected_namespaces,
            *caps.protected_namespaces,
            settings.operator_namespace,
        ),
        caps=caps,
        write_grants=rules.write_grants,
        drain_method=DrainMethod(settings.drain_method),
        checkpoint=checkpoint_from_dir(directory) if directory is not None else None,
    )


def tenancy_rules(configuration: client.Configuration, settings: OperatorSettings) -> TenancyRules:
    """The admin's tenancy rules, read now from the operator's ConfigMap."""
    reader = ConfigMapReader(api_client=client.ApiClient(configuration))
    return load_tenancy(
        read=lambda namespace, name: reader.data(namespace=namespace, name=name),
        namespace=settings.operator_namespace,
        name=settings.tenancy_configmap,
    )


def secret_data(configuration: client.Configuration) -> SecretData:
    """``secrets(namespace, name)``: a Secret's data, read through the apiserver."""
    reader = SecretReader(api_client=client.ApiClient(configuration))
    return lambda namespace, name: reader.data(namespace=namespace, name=name)


@contextlib.contextmanager
def action_ports(
    *,
    configuration: client.Configuration,
    policy: DiagnosisPolicySpec,
    namespace: str,
    rules: TenancyRules = STRICT_RULES,
) -> Iterator[ActionPorts]:
    """The MySQL and traffic ports of one policy; MySQL connections closed afterwards."""
    mysql = MySQLPorts(
        policy=policy, namespace=namespace, secrets=secret_data(configuration), rules=rules
    )
    api = client.ApiClient(configuration)

    def traffic() -> TrafficPolicyBackend:
        return traffic_backend(
            policy=policy,
            namespace=namespace,
            store=KubernetesObjectStore(api_client=api),
            rules=rules,
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
