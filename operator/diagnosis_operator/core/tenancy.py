"""Tenant isolation: may a policy in namespace X use this Secret, write there, send a
credential to that URL?  Pure; one home for each rule.

* A Secret is read only in the policy's own namespace, or one the admin granted
  to that namespace (``secret_refusal``).
* Objects (rate-limit policies, the nginx ConfigMap, drained pods) are written only
  in the policy's namespace or one the admin granted (``write_refusal``).
* A credential read from a Secret is sent only to an origin on the admin's allow
  list (``credential_refusal``); the operator's own default sources are the
  admin's and need no entry.

Each refusal names the policy field and says what the admin would have to allow.
``policy_refusals`` walks a whole ``DiagnosisPolicySpec`` so the policy handler can
say all of it on the policy before any diagnosis runs.
"""

from __future__ import annotations

import fnmatch
from urllib.parse import urlsplit

from diagnosis_operator.api import DiagnosisPolicySpec
from diagnosis_operator.models.tenancy import TenancyRules

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """``scheme://host:port`` of an http(s) URL, lower-cased, port explicit (pure)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port or _DEFAULT_PORTS[scheme]}"


def _entry_origin(entry: str) -> str:
    """An allow-list entry in the same form (a pattern keeps its ``*``)."""
    if "*" in entry or "?" in entry or "[" in entry:
        scheme, _, rest = entry.strip().partition("://")
        if ":" not in rest.rsplit("]", 1)[-1]:
            rest = f"{rest}:{_DEFAULT_PORTS.get(scheme.lower(), 0)}"
        return f"{scheme.lower()}://{rest.lower()}"
    return origin_of(entry) or entry


def secret_refusal(
    rules: TenancyRules, *, policy_namespace: str, secret_namespace: str, field: str
) -> str | None:
    """Why the Secret reference at ``field`` may not be read, or None."""
    if secret_namespace == policy_namespace:
        return None
    if secret_namespace in rules.secret_grants.get(policy_namespace, frozenset()):
        return None
    return (
        f"{field}: a policy in namespace {policy_namespace!r} may not read Secrets in "
        f"namespace {secret_namespace!r} (the operator's admin grants other namespaces "
        "in tenancy.grants[].secretNamespaces)"
    )


def write_refusal(
    rules: TenancyRules, *, policy_namespace: str, namespace: str, field: str
) -> str | None:
    """Why objects may not be written in ``namespace`` for this policy, or None."""
    if namespace == policy_namespace:
        return None
    if namespace in rules.write_grants.get(policy_namespace, frozenset()):
        return None
    return (
        f"{field}: a policy in namespace {policy_namespace!r} may not write objects in "
        f"namespace {namespace!r} (the operator's admin grants other namespaces in "
        "tenancy.grants[].writeNamespaces)"
    )


def credential_refusal(rules: TenancyRules, *, url: str, field: str) -> str | None:
    """Why a credential may not be sent to ``url`` (named at ``field``), or None."""
    origin = origin_of(url)
    if origin is None:
        return f"{field}: {url!r} is not an http(s) URL; no credential is sent to it"
    for entry in rules.credential_origins:
        if fnmatch.fnmatchcase(origin, _entry_origin(entry)):
            return None
    return (
        f"{field}: no credential is sent to {origin}: it is not on the operator's "
        "credential allow list (tenancy.credentialUrls, set by the cluster admin)"
    )


def policy_refusals(spec: DiagnosisPolicySpec, *, namespace: str, rules: TenancyRules) -> list[str]:
    """Every reference in the policy that the rules refuse (pure, in field order)."""
    found: list[str | None] = []
    for label, source in (
        ("prometheus", spec.signals.prometheus),
        ("loki", spec.signals.loki),
    ):
        if source is not None and source.auth_secret_ref is not None:
            found.append(
                credential_refusal(rules, url=source.url, field=f"spec.signals.{label}.url")
            )
    for index, component in enumerate(spec.components):
        for kind, connection in (("mysql", component.mysql), ("redis", component.redis)):
            ref = connection.secret_ref if connection is not None else None
            if ref is not None and ref.namespace is not None:
                found.append(
                    secret_refusal(
                        rules,
                        policy_namespace=namespace,
                        secret_namespace=ref.namespace,
                        field=f"spec.components[{index}].{kind}.secretRef.namespace",
                    )
                )
    kill = spec.remediation.kill_mysql_queries.connection
    if kill is not None and kill.secret_ref.namespace is not None:
        found.append(
            secret_refusal(
                rules,
                policy_namespace=namespace,
                secret_namespace=kill.secret_ref.namespace,
                field="spec.remediation.killMysqlQueries.connection.secretRef.namespace",
            )
        )
    if spec.remediation.drain_pod.enabled:
        for index, component in enumerate(spec.components):
            if component.namespace is not None:
                found.append(
                    write_refusal(
                        rules,
                        policy_namespace=namespace,
                        namespace=component.namespace,
                        field=f"spec.components[{index}].namespace (drainPod is enabled)",
                    )
                )
    target = spec.remediation.rate_limit_client.params.namespace
    if target is not None:
        found.append(
            write_refusal(
                rules,
                policy_namespace=namespace,
                namespace=target,
                field="spec.remediation.rateLimitClient.params.namespace",
            )
        )
    return [problem for problem in found if problem is not None]
