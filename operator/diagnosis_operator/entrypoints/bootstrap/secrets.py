"""The one way a policy's Secret reference becomes a credential, and the admin's rules.

``resolve_secret`` is called for every Secret a DiagnosisPolicy names (connection
``secretRef``, ``signals.*.authSecretRef``, and any later reference): it applies
the tenancy rules (``core.tenancy``) before the Secret is read, so a reference to
another namespace, or a credential bound for a URL the admin has not allowed, is
refused with the field named and the Secret is never fetched.

``load_tenancy`` reads the admin's configuration (the ConfigMap the chart renders
from its ``tenancy`` values, in the operator's own namespace).  Missing: the strict
defaults (own namespace only, no credential to a policy's URL).  Unreadable or
invalid: the strict defaults and every action held to a dry run (fail closed).
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Mapping

import yaml
from pydantic import ValidationError

from diagnosis_operator.api.tenancy import TENANCY_KEY, TenancyConfig
from diagnosis_operator.core.tenancy import credential_refusal, secret_refusal
from diagnosis_operator.models.tenancy import STRICT_RULES, TenancyRules, locked_rules
from diagnosis_operator.service.remediate import PortUnavailable

SecretData = Callable[[str, str], Mapping[str, str]]
ConfigMapData = Callable[[str, str], Mapping[str, str] | None]
log = logging.getLogger(__name__)


class SecretRefused(PortUnavailable):
    """The tenancy rules refuse this reference; the message names the field."""


def resolve_secret(
    *,
    read: SecretData,
    rules: TenancyRules,
    policy_namespace: str,
    name: str,
    namespace: str | None,
    field: str,
    sent_to: str | None = None,
    sent_to_field: str | None = None,
) -> Mapping[str, str]:
    """The Secret's ``data`` (base64 values) once the rules allow it.

    ``namespace`` is the reference's own (None: the policy's); ``sent_to`` is the
    URL the credential will be sent to when the policy names it (None when the
    destination is in the Secret itself or is the admin's).  Raises
    ``SecretRefused`` (nothing read) or ``PortUnavailable`` (unreadable).
    """
    where = namespace or policy_namespace
    refusal = secret_refusal(
        rules, policy_namespace=policy_namespace, secret_namespace=where, field=field
    )
    if refusal is None and sent_to is not None:
        refusal = credential_refusal(rules, url=sent_to, field=sent_to_field or field)
    if refusal is not None:
        raise SecretRefused(refusal)
    try:
        return read(where, name)
    except Exception as error:
        raise PortUnavailable(f"{field}: cannot read Secret {where}/{name}: {error}") from error


def secret_text(data: Mapping[str, str], *, key: str, where: str) -> str:
    """One key of a Secret's data, decoded; the error names the Secret and key, never a value."""
    raw = data.get(key)
    if raw is None:
        raise PortUnavailable(f"{where}: missing key {key!r}")
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8").strip()
    except (binascii.Error, ValueError):
        raise PortUnavailable(f"{where}: key {key!r} is not base64-encoded UTF-8") from None


def load_tenancy(*, read: ConfigMapData, namespace: str, name: str) -> TenancyRules:
    """The admin's rules from ConfigMap ``namespace/name`` (see the module doc)."""
    where = f"ConfigMap {namespace}/{name}"
    try:
        data = read(namespace, name)
    except Exception as error:
        log.error("tenancy: cannot read %s: %s", where, error)
        return locked_rules(f"{where} cannot be read: {error}")
    if data is None:
        return STRICT_RULES
    try:
        loaded = yaml.safe_load(data.get(TENANCY_KEY) or "{}") or {}
        config = TenancyConfig.model_validate(loaded)
    except (yaml.YAMLError, ValidationError) as error:
        reasons = (
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            if isinstance(error, ValidationError)
            else str(error)
        )
        log.error("tenancy: %s key %s is invalid: %s", where, TENANCY_KEY, reasons)
        return locked_rules(f"{where} key {TENANCY_KEY} is invalid: {reasons}"[:1024])
    return config.to_rules(source=where)
