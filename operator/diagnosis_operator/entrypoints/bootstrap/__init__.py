"""The composition root: the only place where adapters are built.

From settings, policies and Secrets, bootstrap builds the ports the services use:
the signal sources of a diagnosis (``signals``), the MySQL / Redis / traffic-policy
connections a policy names for enrichment and remediation (``connections``).  The
entry points call it; tests pass fakes in its place (``OperatorContext``).
"""

from diagnosis_operator.entrypoints.bootstrap.connections import (
    MySQLPorts,
    action_ports,
    enrichment_settings,
    executor_cluster,
    executor_settings,
    make_enricher,
    make_policy_enricher,
    secret_data,
    traffic_backend,
)
from diagnosis_operator.entrypoints.bootstrap.signals import (
    Endpoint,
    SourceConfigError,
    Sources,
    SourceUnreachable,
    build_sources,
    open_signal_sources,
    resolve_endpoints,
)

__all__ = [
    "Endpoint",
    "MySQLPorts",
    "SourceConfigError",
    "SourceUnreachable",
    "Sources",
    "action_ports",
    "build_sources",
    "enrichment_settings",
    "executor_cluster",
    "executor_settings",
    "make_enricher",
    "make_policy_enricher",
    "open_signal_sources",
    "resolve_endpoints",
    "secret_data",
    "traffic_backend",
]
