"""Starting the operator: kopf settings, login, probes, and ``serve``.

kopf keeps its bookkeeping in annotations under ``diagnosis.dev/`` (not in
``status``, which belongs to the CRD schema and is written only through the status
subresource).  No finalizers are added: nothing has to happen on deletion, the
report ConfigMap is garbage-collected through its owner reference.  Runtime
scanning of CRDs and namespaces is off, so the ClusterRole needs no access to
either: the served namespaces are fixed at start.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf
from kubernetes import client

from diagnosis_operator import API_GROUP
from diagnosis_operator.entrypoints.bootstrap.connections import tenancy_rules
from diagnosis_operator.entrypoints.kopf.context import MEMO_KEY, OperatorContext, context_of
from diagnosis_operator.entrypoints.kopf.kube import Kube, build_configuration, connection_info
from diagnosis_operator.entrypoints.kopf.leader import elect, release
from diagnosis_operator.settings import OperatorSettings

logger = logging.getLogger(__name__)

# kopf's thread pool for sync handlers: at most this many Diagnoses (and policy,
# remediation handlers) run at once in one replica; the rest wait their turn.
MAX_WORKERS = 4


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=API_GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=API_GROUP, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{API_GROUP}/finalizer"
    settings.scanning.disabled = True
    settings.posting.reporting_component = "diagnosis-operator"
    settings.execution.max_workers = MAX_WORKERS


@kopf.on.login()
def login(memo: kopf.Memo, **_: Any) -> kopf.ConnectionInfo:
    return connection_info(context_of(memo).configuration)


@kopf.on.probe(id="settings")
def probe_settings(memo: kopf.Memo, **_: Any) -> dict[str, Any]:
    settings = context_of(memo).settings
    return {
        "namespaces": list(settings.namespaces) or "*",
        "standalone": settings.standalone,
        "peering": None if settings.standalone else settings.peering_name,
        "priority": settings.priority,
    }


def serve(settings: OperatorSettings) -> None:
    """Run the operator until it is stopped (SIGINT/SIGTERM)."""
    # Imported for their side effect: registering their handlers with kopf.
    from diagnosis_operator.entrypoints.kopf import (  # noqa: F401
        alert_rules,
        diagnosis,
        policy,
        remediation,
        webhook,
    )

    configuration = build_configuration(settings)
    context = OperatorContext(
        settings=settings,
        configuration=configuration,
        kube=Kube(api_client=client.ApiClient(configuration)),
        tenancy=lambda: tenancy_rules(configuration, settings),
    )
    elected = None
    if settings.leader_election:
        elected = elect(settings, client.ApiClient(configuration))
        if elected is None:
            return
    # Under a lease, kopf runs standalone: the lease already says who acts.
    standalone = settings.standalone or elected is not None
    logger.info(
        "serving %s; %s",
        ", ".join(settings.namespaces) or "all namespaces",
        "leading (lease)"
        if elected is not None
        else "standalone"
        if standalone
        else f"peering {settings.peering_name!r}",
    )
    try:
        kopf.run(
            clusterwide=settings.all_namespaces,
            namespaces=settings.namespaces,
            standalone=standalone,
            peering_name=None if standalone else settings.peering_name,
            priority=settings.priority or 0,
            liveness_endpoint=settings.liveness_endpoint,
            memo=kopf.Memo({MEMO_KEY: context}),
        )
    finally:
        if elected is not None:
            release(elected)
