"""The signal catalog: PromQL templates per component kind for the usual exporters.

Pure data and pure functions (no I/O); label values are quoted by the one escaping
module, ``models.querytext``.

A template is PromQL with placeholders, filled in one pass (a filled-in value
is never scanned again, so a label value that reads ``{range}`` stays text):

* ``{selector}``: the component's matchers with braces, ``{job="api"}``;
* ``{matchers}``: the same without braces, to combine with fixed matchers:
  ``http_requests_total{{matchers},code=~"5.."}``;
* ``{range}``: the rate window, e.g. ``2m``.

Every template must mention ``{selector}`` or ``{matchers}``: a signal that is
not scoped to its component would read every component's series.  Label
values come from topology and policies (input) and are quoted by
``models.querytext``; nothing from input is pasted with ``str.format``.

Results are grouped ``by (instance)`` where a per-instance view makes sense,
so degraded instances can be told from healthy siblings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from diagnosis_operator.models.querytext import QueryBuildError, duration, matchers
from diagnosis_operator.models.topology import Component, ComponentKind

__all__ = [
    "DEFAULT_CATALOG",
    "DEFAULT_RATE_WINDOW",
    "PLACEHOLDERS",
    "CatalogError",
    "RenderedSignal",
    "SignalTemplate",
    "catalog_for",
    "parse_template",
    "render",
    "render_component",
]

DEFAULT_RATE_WINDOW = 120.0
PLACEHOLDERS = ("selector", "matchers", "range")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SIGNAL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
ALL_KINDS: frozenset[ComponentKind] = frozenset(ComponentKind)


class CatalogError(QueryBuildError):
    """A template or signal name that cannot be used; says which and why."""


@dataclass(frozen=True, slots=True)
class SignalTemplate:
    """One catalog signal: a name, its PromQL template and what it means."""

    name: str
    promql: str
    description: str
    # "ratio", "seconds", "per_second", "count", "bytes"...
    unit: str
    kinds: frozenset[ComponentKind] = ALL_KINDS
    # Most signals are bad when high; "success" style signals are bad when low.
    higher_is_worse: bool = True


@dataclass(frozen=True, slots=True)
class RenderedSignal:
    """A template filled in for one component (and optionally one instance)."""

    name: str
    component: str
    promql: str
    description: str
    unit: str
    higher_is_worse: bool


def _t(
    name: str,
    promql: str,
    description: str,
    unit: str,
    *kinds: ComponentKind,
    higher_is_worse: bool = True,
) -> SignalTemplate:
    return SignalTemplate(
        name=name,
        promql=promql,
        description=description,
        unit=unit,
        kinds=frozenset(kinds) if kinds else ALL_KINDS,
        higher_is_worse=higher_is_worse,
    )


_APP = (ComponentKind.APP, ComponentKind.PROXY, ComponentKind.OTHER)
_HTTP_TOTAL = "sum by (instance) (rate(http_requests_total{selector}[{range}]))"
_HTTP_5XX = (
    "sum by (instance) ("
    'rate(http_requests_total{{matchers},code=~"5.."}[{range}])'
    ' or rate(http_requests_total{{matchers},status=~"5.."}[{range}])'
    ")"
)
_INGRESS_TOTAL = "sum by (instance) (rate(nginx_ingress_controller_requests{selector}[{range}]))"
_INGRESS_5XX = (
    'sum by (instance) (rate(nginx_ingress_controller_requests{{matchers},status=~"5.."}[{range}]))'
)
# Traefik's entrypoint request counter by ``code``
# (https://doc.traefik.io/traefik/observability/metrics/overview/#entrypoint-metrics):
# what it answered, its own middlewares' refusals included (a RateLimit's 429).
_TRAEFIK_TOTAL = "sum by (instance) (rate(traefik_entrypoint_requests_total{selector}[{range}]))"
_TRAEFIK_5XX = (
    'sum by (instance) (rate(traefik_entrypoint_requests_total{{matchers},code=~"5.."}[{range}]))'
)
_TRAEFIK_429 = (
    'sum by (instance) (rate(traefik_entrypoint_requests_total{{matchers},code="429"}[{range}]))'
)

DEFAULT_CATALOG: tuple[SignalTemplate, ...] = (
    # Scrape health and CPU: any component.
    _t("up", "min by (instance) (up{selector})", "scrape target up (1) or down (0)", "bool",
       higher_is_worse=False),
    _t("process_cpu", "sum by (instance) (rate(process_cpu_seconds_total{selector}[{range}]))",
       "CPU used by the process, in cores", "cores"),
    _t("container_cpu",
       "sum by (instance, pod) (rate(container_cpu_usage_seconds_total{selector}[{range}]))",
       "CPU used by the container, in cores", "cores"),
    # The application's own RED metrics.
    _t("request_rate", _HTTP_TOTAL, "HTTP requests per second", "per_second", *_APP,
       higher_is_worse=False),
    _t("error_ratio", f"({_HTTP_5XX} or 0 * {_HTTP_TOTAL}) / {_HTTP_TOTAL}",
       "share of HTTP requests answered 5xx (code or status label)", "ratio", *_APP),
    _t("latency_p99",
       "histogram_quantile(0.99, sum by (instance, le) "
       "(rate(http_request_duration_seconds_bucket{selector}[{range}])))",
       "99th percentile HTTP request duration", "seconds", *_APP),
    _t("latency_mean",
       "sum by (instance) (rate(http_request_duration_seconds_sum{selector}[{range}]))"
       " / sum by (instance) (rate(http_request_duration_seconds_count{selector}[{range}]))",
       "mean HTTP request duration", "seconds", *_APP),
    # ingress-nginx controller and nginx-prometheus-exporter (stub_status).
    _t("ingress_request_rate", _INGRESS_TOTAL, "ingress requests per second", "per_second",
       ComponentKind.PROXY, higher_is_worse=False),
    _t("ingress_error_ratio", f"({_INGRESS_5XX} or 0 * {_INGRESS_TOTAL}) / {_INGRESS_TOTAL}",
       "share of ingress requests answered 5xx", "ratio", ComponentKind.PROXY),
    _t("ingress_latency_p99",
       "histogram_quantile(0.99, sum by (instance, le) "
       "(rate(nginx_ingress_controller_request_duration_seconds_bucket{selector}[{range}])))",
       "99th percentile ingress request duration", "seconds", ComponentKind.PROXY),
    _t("upstream_latency_p99",
       "histogram_quantile(0.99, sum by (instance, le) "
       "(rate(nginx_ingress_controller_response_duration_seconds_bucket{selector}[{range}])))",
       "99th percentile upstream response time seen by the ingress", "seconds",
       ComponentKind.PROXY),
    _t("nginx_request_rate",
       "sum by (instance) (rate(nginx_http_requests_total{selector}[{range}]))",
       "nginx requests per second (stub_status)", "per_second", ComponentKind.PROXY,
       higher_is_worse=False),
    _t("nginx_active_connections", "max by (instance) (nginx_connections_active{selector})",
       "nginx active client connections", "count", ComponentKind.PROXY),
    # Traefik.
    _t("traefik_error_ratio", f"({_TRAEFIK_5XX} or 0 * {_TRAEFIK_TOTAL}) / {_TRAEFIK_TOTAL}",
       "share of Traefik's requests answered 5xx", "ratio", ComponentKind.PROXY),
    _t("traefik_refused_ratio", f"({_TRAEFIK_429} or 0 * {_TRAEFIK_TOTAL}) / {_TRAEFIK_TOTAL}",
       "share of Traefik's requests answered 429 (its rate limit)", "ratio",
       ComponentKind.PROXY),
    # mysqld_exporter.
    _t("mysql_up", "min by (instance) (mysql_up{selector})", "exporter reaches MySQL (1/0)",
       "bool", ComponentKind.MYSQL, higher_is_worse=False),
    _t("mysql_threads_connected",
       "max by (instance) (mysql_global_status_threads_connected{selector})",
       "open client connections", "count", ComponentKind.MYSQL),
    _t("mysql_threads_running",
       "max by (instance) (mysql_global_status_threads_running{selector})",
       "threads executing a statement", "count", ComponentKind.MYSQL),
    _t("mysql_connection_usage",
       "max by (instance) (mysql_global_status_threads_connected{selector})"
       " / max by (instance) (mysql_global_variables_max_connections{selector} > 0)",
       "connections used out of max_connections", "ratio", ComponentKind.MYSQL),
    _t("mysql_slow_queries_rate",
       "sum by (instance) (rate(mysql_global_status_slow_queries{selector}[{range}]))",
       "slow queries per second", "per_second", ComponentKind.MYSQL),
    _t("mysql_row_lock_waits_rate",
       "sum by (instance) (rate(mysql_global_status_innodb_row_lock_waits{selector}[{range}]))",
       "InnoDB row lock waits per second", "per_second", ComponentKind.MYSQL),
    _t("mysql_row_lock_time_rate",
       "sum by (instance) (rate(mysql_global_status_innodb_row_lock_time{selector}[{range}]))",
       "milliseconds spent waiting for row locks, per second", "ms_per_second",
       ComponentKind.MYSQL),
    _t("mysql_deadlocks_rate",
       "sum by (instance) ("
       "rate(mysql_global_status_innodb_deadlocks{selector}[{range}])"
       " or rate(mysql_info_schema_innodb_metrics_lock_lock_deadlocks_total{selector}[{range}])"
       ")",
       "InnoDB deadlocks per second (status counter or information_schema)", "per_second",
       ComponentKind.MYSQL),
    _t("mysql_connection_errors_rate",
       "sum by (instance) (rate(mysql_global_status_connection_errors_total{selector}[{range}]))",
       "connection errors per second (all errors)", "per_second", ComponentKind.MYSQL),
    _t("mysql_aborted_connects_rate",
       "sum by (instance) (rate(mysql_global_status_aborted_connects{selector}[{range}]))",
       "failed connection attempts per second", "per_second", ComponentKind.MYSQL),
    _t("mysql_queries_rate",
       "sum by (instance) (rate(mysql_global_status_queries{selector}[{range}]))",
       "statements per second", "per_second", ComponentKind.MYSQL, higher_is_worse=False),
    # redis_exporter.
    _t("redis_up", "min by (instance) (redis_up{selector})", "exporter reaches Redis (1/0)",
       "bool", ComponentKind.REDIS, higher_is_worse=False),
    _t("redis_connected_clients", "max by (instance) (redis_connected_clients{selector})",
       "connected clients", "count", ComponentKind.REDIS),
    _t("redis_blocked_clients", "max by (instance) (redis_blocked_clients{selector})",
       "clients blocked in a blocking call", "count", ComponentKind.REDIS),
    _t("redis_commands_rate",
       "sum by (instance) (rate(redis_commands_processed_total{selector}[{range}]))",
       "commands per second", "per_second", ComponentKind.REDIS, higher_is_worse=False),
    _t("redis_command_latency_mean",
       "sum by (instance) (rate(redis_commands_duration_seconds_total{selector}[{range}]))"
       " / sum by (instance) (rate(redis_commands_total{selector}[{range}]))",
       "mean command duration", "seconds", ComponentKind.REDIS),
    _t("redis_slowlog_length", "max by (instance) (redis_slowlog_length{selector})",
       "entries in the slow log", "count", ComponentKind.REDIS),
    _t("redis_keyspace_miss_ratio",
       "sum by (instance) (rate(redis_keyspace_misses_total{selector}[{range}]))"
       " / (sum by (instance) (rate(redis_keyspace_hits_total{selector}[{range}]))"
       " + sum by (instance) (rate(redis_keyspace_misses_total{selector}[{range}])))",
       "share of key lookups that missed", "ratio", ComponentKind.REDIS),
    _t("redis_memory_usage",
       "max by (instance) (redis_memory_used_bytes{selector})"
       " / max by (instance) (redis_memory_max_bytes{selector} > 0)",
       "memory used out of maxmemory", "ratio", ComponentKind.REDIS),
    _t("redis_rejected_connections_rate",
       "sum by (instance) (rate(redis_rejected_connections_total{selector}[{range}]))",
       "connections refused (maxclients) per second", "per_second", ComponentKind.REDIS),
    _t("redis_evicted_keys_rate",
       "sum by (instance) (rate(redis_evicted_keys_total{selector}[{range}]))",
       "keys evicted per second", "per_second", ComponentKind.REDIS),
)  # fmt: skip


def parse_template(
    *,
    name: str,
    promql: str,
    description: str = "",
    unit: str = "",
    kinds: Iterable[ComponentKind] = (),
) -> SignalTemplate:
    """Pure.  A template from a policy, checked: name, placeholders, scoping.

    Raises ``CatalogError`` saying which signal is wrong and why.  Whether the
    PromQL parses is for Prometheus to say (``PrometheusAdapter.check_query``
    on a rendering).
    """
    if not isinstance(name, str) or not _SIGNAL_NAME.match(name):
        raise CatalogError(
            f"signal name {name!r} is invalid: use lower case letters, digits and '_' "
            "(starting with a letter, at most 63 characters)"
        )
    if not isinstance(promql, str) or not promql.strip():
        raise CatalogError(f"signal {name!r}: the PromQL template is empty")
    used = {match.group(1) for match in _PLACEHOLDER.finditer(promql)}
    unknown = sorted(used - set(PLACEHOLDERS))
    if unknown:
        raise CatalogError(
            f"signal {name!r}: unknown placeholder(s) "
            + ", ".join("{" + u + "}" for u in unknown)
            + "; templates may use {selector}, {matchers} and {range}"
        )
    if not used & {"selector", "matchers"}:
        raise CatalogError(
            f"signal {name!r}: the template must use {{selector}} or {{matchers}} so that it "
            "reads only the component's series"
        )
    return SignalTemplate(
        name=name,
        promql=promql,
        description=description or f"policy signal {name}",
        unit=unit,
        kinds=frozenset(kinds) or ALL_KINDS,
    )


def catalog_for(
    kind: ComponentKind,
    *,
    overrides: Mapping[str, str | SignalTemplate | None] | None = None,
    base: Iterable[SignalTemplate] = DEFAULT_CATALOG,
) -> list[SignalTemplate]:
    """Pure.  The templates for ``kind``: the base catalog, then a policy's overrides.

    An override replaces the entry of the same name (whatever its kinds) or
    adds one; ``None`` removes the entry.  A plain string override applies to
    ``kind``.  Order: base entries first (in catalog order), then new ones.
    """
    chosen: dict[str, SignalTemplate] = {
        template.name: template for template in base if kind in template.kinds
    }
    for name, override in (overrides or {}).items():
        if override is None:
            chosen.pop(name, None)
            continue
        template = (
            override
            if isinstance(override, SignalTemplate)
            else parse_template(name=name, promql=override, kinds=(kind,))
        )
        if template.name != name:
            raise CatalogError(f"override {name!r} holds a template named {template.name!r}")
        if kind in template.kinds:
            chosen[name] = template
        else:
            chosen.pop(name, None)
    return list(chosen.values())


def render(
    template: SignalTemplate | str,
    *,
    selector: Mapping[str, str],
    instance: str | None = None,
    rate_window: float = DEFAULT_RATE_WINDOW,
) -> str:
    """Pure.  The template's PromQL for ``selector`` (+ ``instance``), escaped, in one pass."""
    text = template.promql if isinstance(template, SignalTemplate) else template
    labels = dict(selector)
    if instance is not None:
        labels["instance"] = instance
    if not labels:
        raise CatalogError("a catalog signal needs a selector with at least one label")
    inner = matchers(labels)[1:-1]
    values = {
        "selector": "{" + inner + "}",
        "matchers": inner,
        "range": duration(rate_window),
    }

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise CatalogError(f"unknown placeholder {{{key}}} in template {text!r}")
        return values[key]

    return _PLACEHOLDER.sub(fill, text)


def render_component(
    component: Component,
    *,
    overrides: Mapping[str, str | SignalTemplate | None] | None = None,
    instance: str | None = None,
    rate_window: float = DEFAULT_RATE_WINDOW,
) -> list[RenderedSignal]:
    """Pure.  Every catalog signal of ``component``'s kind, rendered for its selector."""
    return [
        RenderedSignal(
            name=template.name,
            component=component.name,
            promql=render(
                template, selector=component.selector, instance=instance, rate_window=rate_window
            ),
            description=template.description,
            unit=template.unit,
            higher_is_worse=template.higher_is_worse,
        )
        for template in catalog_for(component.kind, overrides=overrides)
    ]
