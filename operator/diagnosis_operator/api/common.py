"""What the ``Diagnosis`` and ``DiagnosisPolicy`` resources share.

The base model (camelCase on the wire, unknown fields refused), the CEL rule
helper, durations, names and label matchers, conditions, Secret references,
connections and label selectors.

These models are the single source of the CRD schemas: ``api/crdgen.py`` turns
them into ``crds/*.yaml`` and a test checks the committed files equal its output,
so the apiserver and the operator cannot disagree about a field.  Rules the
apiserver checks with CEL (``x-kubernetes-validations``) are checked again here by
model validators, so a spec read from a file or a test is held to the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

# Go-style durations as Kubernetes users write them ("30m", "1h30m", "90s"), plus days.
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h|d))+$"
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# A DNS-1123 label: what a component name has to be to show up in labels and events.
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# A condition reason, as metav1.Condition requires it.
REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"

MAX_CONDITIONS = 16

# The category both CRDs belong to (`kubectl get diagnosis-operator` lists them all).
# It must not be any resource's name: kubectl expands a category before it looks up
# a resource, so a category "diagnosis" made `kubectl get diagnosis` mean both kinds
# and `kubectl patch diagnosis NAME` fail with "you may only specify a single
# resource type".
CATEGORY = "diagnosis-operator"

# A Prometheus label name (https://prometheus.io/docs/concepts/data_model/#metric-names-and-labels:
# "Label names ... must match the regex [a-zA-Z_][a-zA-Z0-9_]*").  Component selectors
# become PromQL and LogQL matchers, so a name with any other character is refused.
PROMETHEUS_LABEL_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
_LABEL_NAME = re.compile(PROMETHEUS_LABEL_NAME)

Duration = Annotated[
    str,
    Field(
        pattern=DURATION_PATTERN,
        max_length=32,
        description='A duration such as "30s", "5m", "1h30m" or "2d".',
    ),
]
ComponentName = Annotated[str, Field(min_length=1, max_length=63, pattern=NAME_PATTERN)]
LabelMatchers = Annotated[
    dict[str, str],
    Field(
        description="Label equality matchers: every label must be present with this value.",
        max_length=32,
    ),
]


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``"1h30m"`` (pure).  Raises ``ValueError``."""
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"invalid duration {text!r}: expected e.g. 30s, 5m, 1h30m or 2d")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(text))


class CrdModel(BaseModel):
    """Base for everything in a CR: camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        use_enum_values=False,
    )

    def to_wire(self) -> dict[str, Any]:
        """The object as the apiserver stores it: camelCase, JSON types, no nulls."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def validations(*rules: tuple[str, str, str | None]) -> dict[str, Any]:
    """``x-kubernetes-validations`` entries: (CEL rule, message, fieldPath)."""
    entries: list[dict[str, str]] = []
    for rule, message, field_path in rules:
        entry = {"rule": rule, "message": message}
        if field_path:
            entry["fieldPath"] = field_path
        entries.append(entry)
    return {"x-kubernetes-validations": entries}


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _prometheus_label_names(matchers: dict[str, str]) -> dict[str, str]:
    for name, value in matchers.items():
        if not _LABEL_NAME.fullmatch(name):
            raise ValueError(
                f"label name {name!r} must match [a-zA-Z_][a-zA-Z0-9_]* (the Prometheus data model)"
            )
        if _LONE_SURROGATE.search(value):
            # JSON can carry a lone surrogate as an escape; it has no UTF-8 form, so no
            # query could select by it (label values are UTF-8 in the Prometheus data model).
            raise ValueError(f"the value of label {name!r} is not valid UTF-8 text")
    return matchers


SignalLabelMatchers = Annotated[
    dict[str, str],
    Field(
        description="Label equality matchers on series and log streams: every label must be "
        "present with this value. Label names follow the Prometheus data model "
        "([a-zA-Z_][a-zA-Z0-9_]*).",
        max_length=32,
        json_schema_extra=validations(
            (
                f"self.all(k, k.matches('{PROMETHEUS_LABEL_NAME}'))",
                "label names must match [a-zA-Z_][a-zA-Z0-9_]* (the Prometheus data model)",
                None,
            ),
        ),
    ),
    AfterValidator(_prometheus_label_names),
]


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(CrdModel):
    """A standard condition (the shape of metav1.Condition)."""

    type: str = Field(min_length=1, max_length=316, description="Condition type, e.g. Ready.")
    status: ConditionStatus
    reason: str = Field(min_length=1, max_length=1024, pattern=REASON_PATTERN)
    message: str = Field(default="", max_length=32768)
    last_transition_time: datetime = Field(
        description="When the condition last changed status (RFC 3339)."
    )
    observed_generation: int | None = Field(
        default=None, ge=0, description="The .metadata.generation the condition was set for."
    )


Conditions = Annotated[
    list[Condition],
    Field(
        max_length=MAX_CONDITIONS,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    ),
]


class SecretKeyRef(CrdModel):
    """A key of a Secret in the resource's own namespace."""

    name: str = Field(min_length=1, max_length=253)
    key: str = Field(default="token", min_length=1, max_length=253)


class ConnectionSecretRef(CrdModel):
    """A Secret holding connection settings, in the policy's namespace unless ``namespace``
    (another namespace only where the operator's admin grants it: docs/multi-tenancy.md).

    For MySQL the keys are ``host``, ``port``, ``user``, ``password`` and ``database``
    (``host``, ``user`` and ``password`` required); for Redis the key ``key`` holds a
    ``redis://`` / ``rediss://`` / ``unix://`` URL (which may carry the password).
    """

    name: str = Field(min_length=1, max_length=253)
    namespace: str | None = Field(default=None, min_length=1, max_length=63)
    key: str | None = Field(
        default=None,
        min_length=1,
        max_length=253,
        description="Redis only: the key holding the URL (default url).",
    )


class MySQLConnection(CrdModel):
    """How the operator reaches one MySQL/MariaDB server."""

    secret_ref: ConnectionSecretRef


class RedisConnection(CrdModel):
    """How the operator reaches one Redis server: a URL without secrets, or a Secret."""

    url: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^(redis|rediss|unix)://[^@]*$",
        description="redis://host:port/db without credentials (use secretRef for those).",
    )
    secret_ref: ConnectionSecretRef | None = None

    model_config = ConfigDict(
        json_schema_extra=validations(
            (
                "has(self.url) != has(self.secretRef)",
                "set exactly one of url or secretRef",
                None,
            ),
        )
    )

    @model_validator(mode="after")
    def _one_form(self) -> RedisConnection:
        if (self.url is None) == (self.secret_ref is None):
            raise ValueError("set exactly one of url or secretRef")
        return self


class LabelSelectorOperator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class LabelSelectorRequirement(CrdModel):
    key: str = Field(min_length=1, max_length=317)
    operator: LabelSelectorOperator
    values: list[str] = Field(default_factory=list, max_length=64)

    model_config = ConfigDict(
        json_schema_extra=validations(
            (
                "self.operator in ['In', 'NotIn'] ? size(self.values) > 0 : size(self.values) == 0",
                "values must be non-empty for In/NotIn and empty for Exists/DoesNotExist",
                None,
            ),
        )
    )

    @model_validator(mode="after")
    def _values_match_operator(self) -> LabelSelectorRequirement:
        needs_values = self.operator in (LabelSelectorOperator.IN, LabelSelectorOperator.NOT_IN)
        if needs_values != bool(self.values):
            raise ValueError(
                "values must be non-empty for In/NotIn and empty for Exists/DoesNotExist"
            )
        return self


class LabelSelector(CrdModel):
    """A Kubernetes label selector for pods (metav1.LabelSelector)."""

    match_labels: dict[str, str] = Field(default_factory=dict, max_length=32)
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list, max_length=16)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Does a pod with ``labels`` match (metav1.LabelSelector semantics)?  Pure.

        An empty selector matches every pod, as in Kubernetes.
        """
        if any(labels.get(key) != value for key, value in self.match_labels.items()):
            return False
        for requirement in self.match_expressions:
            present = requirement.key in labels
            value = labels.get(requirement.key)
            operator = requirement.operator
            if operator is LabelSelectorOperator.EXISTS and not present:
                return False
            if operator is LabelSelectorOperator.DOES_NOT_EXIST and present:
                return False
            if operator is LabelSelectorOperator.IN and value not in requirement.values:
                return False
            if operator is LabelSelectorOperator.NOT_IN and value in requirement.values:
                return False
        return True

    def to_query(self) -> str:
        """The selector as the ``labelSelector`` query parameter of a list call (pure)."""
        parts = [f"{key}={value}" for key, value in sorted(self.match_labels.items())]
        for requirement in self.match_expressions:
            if requirement.operator is LabelSelectorOperator.EXISTS:
                parts.append(requirement.key)
            elif requirement.operator is LabelSelectorOperator.DOES_NOT_EXIST:
                parts.append(f"!{requirement.key}")
            else:
                verb = "in" if requirement.operator is LabelSelectorOperator.IN else "notin"
                parts.append(f"{requirement.key} {verb} ({','.join(requirement.values)})")
        return ",".join(parts)


@dataclass(frozen=True)
class CrdSpec:
    """How one CRD is named and shown: everything the schema does not say."""

    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    categories: tuple[str, ...]
    spec_model: type[CrdModel]
    status_model: type[CrdModel]
    printer_columns: tuple[dict[str, str], ...]
    description: str
