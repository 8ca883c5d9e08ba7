"""The RED signals derived from counter rates, per family and instance.  Pure.

Where the labels allow it: the 5xx ratio (and request rate) of every counter
family with a ``code``/``status`` label (its 429 ratio too when it counts any), mean
latency from a histogram or summary ``_sum``/``_count`` pair, CPU (cores) from
``*cpu*seconds_total``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from diagnosis_operator.core.diagnosis.instances import PodKey, instance_of
from diagnosis_operator.core.diagnosis.queries import rate_range, selector_text
from diagnosis_operator.core.diagnosis.signal_types import (
    INSTANCE_LABELS,
    FloatArray,
    Signal,
    SignalKind,
)
from diagnosis_operator.models.signals import Labels

# The response code label of the usual exporters: client libraries (``code``),
# ingress-nginx (``status``), Envoy (``envoy_response_code``, and its class
# ``envoy_response_code_class``: "5" for every 5xx; Envoy's statistics reference,
# https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/stats).
_STATUS_LABELS = (
    "code",
    "status",
    "status_code",
    "response_code",
    "envoy_response_code",
    "envoy_response_code_class",
)
Members = Sequence[tuple[Labels, FloatArray]]
REFUSED_STATUS = "429"  # Too Many Requests: a rate limiter turning a request away


def _sum_rows(rows: Iterable[FloatArray]) -> FloatArray:
    stacked = np.vstack(list(rows))
    total: FloatArray = np.nansum(stacked, axis=0)
    total[np.isnan(stacked).all(axis=0)] = np.nan
    return total


@dataclass(frozen=True)
class _Family:
    """The rates of one counter family on one instance, and how its queries read."""

    component: str
    name: str
    instance: str | None
    members: Members
    labels: Labels  # what the members share of INSTANCE_LABELS and job
    window_text: str
    step: float


def derived_signals(
    component: str,
    rates: Mapping[tuple[str, Labels], FloatArray],
    step: float,
    *,
    pods: Mapping[PodKey, str],
) -> list[Signal]:
    """Pure: the 5xx ratio, request rate, mean latency and CPU signals the rates allow."""
    window_text = rate_range(step)
    derived: list[Signal] = []
    by_family_instance: dict[tuple[str, str | None], list[tuple[Labels, FloatArray]]] = defaultdict(
        list
    )
    for (name, labels), values in rates.items():
        by_family_instance[(name, instance_of(labels, pods=pods))].append((labels, values))

    for (name, instance), members in sorted(
        by_family_instance.items(), key=lambda item: (item[0][0], item[0][1] or "")
    ):
        family = _Family(
            component=component,
            name=name,
            instance=instance,
            members=members,
            labels=_common_instance_labels(labels for labels, _ in members),
            window_text=window_text,
            step=step,
        )
        derived.extend(_status_signals(family))
        if name.endswith("_sum"):
            counts = by_family_instance.get((name[: -len("_sum")] + "_count", instance))
            if counts:
                derived.append(_latency_signal(family, counts))
        if is_cpu_usage_counter(name):
            derived.append(_cpu_signal(family))
    return derived


def _status_signals(family: _Family) -> list[Signal]:
    """The 5xx ratio and the request rate of a family with a status label."""
    name, instance_labels, window_text = family.name, family.labels, family.window_text
    status_members = [
        (labels, values)
        for labels, values in family.members
        if any(labels.get(key) for key in _STATUS_LABELS)
    ]
    if not status_members or name.endswith(("_sum", "_bucket")):
        return []
    total = _sum_rows(values for _, values in status_members)
    errors = [values for labels, values in status_members if status_of(labels).startswith("5")]
    error_rate, ratio = _share(errors, total)
    status_label = next(
        key for key in _STATUS_LABELS if any(key in labels for labels, _ in status_members)
    )
    selector = selector_text(name, instance_labels)
    server_errors = "5" if status_label.endswith("_class") else "5.."
    errors_selector = selector_text(name, instance_labels, f'{status_label}=~"{server_errors}"')
    return [
        Signal(
            component=family.component,
            instance=family.instance,
            name=f"{name} 5xx ratio",
            family=f"{name} errors",
            kind=SignalKind.ERROR_RATIO,
            query=_rate_ratio(errors_selector, selector, window_text),
            values=ratio,
            labels=instance_labels,
            events=error_rate * family.step,
            requests=total * family.step,
        ),
        Signal(
            component=family.component,
            instance=family.instance,
            name=f"{name} request rate",
            family=f"{name} requests",
            kind=SignalKind.REQUEST_RATE,
            query=f"sum(rate({selector}[{window_text}]))",
            values=total,
            labels=instance_labels,
        ),
        *_refusal_signals(family, status_members, total, status_label),
    ]


def _share(rows: list[FloatArray], total: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The summed rate of ``rows`` (NaN where ``total`` is unknown; a series that does not
    exist yet counted nothing yet) and its share of ``total`` (NaN where nothing came)."""
    counted = np.nan_to_num(_sum_rows(rows), nan=0.0) if rows else 0.0
    rate = np.where(np.isnan(total), np.nan, counted)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(total > 0, rate / np.where(total > 0, total, 1.0), np.nan)
    return rate, ratio


def _refusal_signals(
    family: _Family, members: Members, total: FloatArray, status_label: str
) -> list[Signal]:
    """The share of requests refused ``429 Too Many Requests``, when the family counts any.

    A rate limiter's answer (RFC 6585, section 4; nginx ``limit_req_status``, Traefik's
    RateLimit middleware, Envoy's local rate limit): a rising share of them is users turned
    away as surely as a 5xx, whoever decides later whether that was by design
    (``shedding``).  Only families with a 429 series: a ratio that cannot move is no signal.
    """
    refused = [values for labels, values in members if status_of(labels) == REFUSED_STATUS]
    if not refused:
        return []
    rate, ratio = _share(refused, total)
    selector = selector_text(family.name, family.labels)
    refused_selector = selector_text(
        family.name, family.labels, f'{status_label}="{REFUSED_STATUS}"'
    )
    return [
        Signal(
            component=family.component,
            instance=family.instance,
            name=f"{family.name} {REFUSED_STATUS} ratio",
            family=f"{family.name} refusals",
            kind=SignalKind.ERROR_RATIO,
            query=_rate_ratio(refused_selector, selector, family.window_text),
            values=ratio,
            labels=family.labels,
            events=rate * family.step,
            requests=total * family.step,
        )
    ]


def _latency_signal(family: _Family, counts: Members) -> Signal:
    """Mean seconds per request of a ``_sum`` family and its ``_count`` sibling."""
    name, instance_labels, window_text = family.name, family.labels, family.window_text
    base = name[: -len("_sum")]
    total_sum = _sum_rows(values for _, values in family.members)
    total_count = _sum_rows(values for _, values in counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(
            total_count > 0,
            total_sum / np.where(total_count > 0, total_count, 1.0),
            np.nan,
        )
    count_selector = selector_text(base + "_count", instance_labels)
    return Signal(
        component=family.component,
        instance=family.instance,
        name=f"{base} mean",
        family=f"{base} latency",
        kind=SignalKind.LATENCY,
        query=_rate_ratio(selector_text(name, instance_labels), count_selector, window_text),
        values=mean,
        labels=instance_labels,
    )


def _rate_ratio(top: str, bottom: str, window_text: str) -> str:
    return f"sum(rate({top}[{window_text}])) / sum(rate({bottom}[{window_text}]))"


def _cpu_signal(family: _Family) -> Signal:
    """Cores used, from a CPU-seconds counter."""
    selector = selector_text(family.name, family.labels)
    return Signal(
        component=family.component,
        instance=family.instance,
        name="cpu usage",
        family="cpu",
        kind=SignalKind.CPU,
        query=f"sum(rate({selector}[{family.window_text}]))",
        values=_sum_rows(values for _, values in family.members),
        labels=family.labels,
    )


# CPU-time counters that are not time spent running: waiting for a core or a
# throttled period is no usage (adding it would count a throttled pod twice).
_NOT_CPU_USAGE = ("throttl", "steal", "wait", "idle", "period")


def is_cpu_usage_counter(name: str) -> bool:
    """Pure: a counter of CPU seconds used (``process_cpu_seconds_total``, cAdvisor usage...)."""
    lowered = name.lower()
    return (
        "cpu" in lowered
        and "seconds" in lowered
        and name.endswith("_total")
        and not any(word in lowered for word in _NOT_CPU_USAGE)
    )


def status_of(labels: Mapping[str, str]) -> str:
    for key in _STATUS_LABELS:
        value = labels.get(key)
        if value:
            return value
    return ""


def _common_instance_labels(label_sets: Iterable[Labels]) -> Labels:
    sets = list(label_sets)
    if not sets:
        return Labels()
    common = dict(sets[0])
    for labels in sets[1:]:
        common = {key: value for key, value in common.items() if labels.get(key) == value}
    return Labels(
        {key: value for key, value in common.items() if key in INSTANCE_LABELS or key == "job"}
    )
