"""``diagnosis-operator run``: start the operator (kopf) against the apiserver.

    diagnosis-operator run --all-namespaces --peering diagnosis-operator \
        --liveness http://0.0.0.0:8081/healthz
    diagnosis-operator run --namespace shop --standalone --kubeconfig ~/.kube/config
    diagnosis-operator run --namespace shop --server https://127.0.0.1:6443 \
        --token-file sa.token --certificate-authority ca.crt

Flags win over ``DIAG_*`` environment variables (see settings.py).  Without
``--kubeconfig`` or ``--server``, in-cluster credentials are used, else
``$KUBECONFIG`` / ``~/.kube/config``.

High availability: run two or more replicas with the same ``--peering`` name;
kopf lets the one with the highest ``--priority`` handle objects while the others
wait, and the next one takes over when its keep-alives stop (about a minute).
Peers with equal priorities would all pause, so without ``--priority`` each
replica draws a random one at start.  The peering object (ClusterKopfPeering for
``--all-namespaces``, KopfPeering in each namespace otherwise) must exist; the
chart creates it.  ``--standalone`` runs without peering: one replica only.

``--leader-election`` (chart: ``leaderElection.enabled``) replaces peering with a
coordination.k8s.io Lease (``--lease-name``, in ``DIAG_OPERATOR_NAMESPACE``):
every replica runs with the same flags, the holder acts (kopf standalone), the
others stand by and take over within ``DIAG_LEASE_DURATION`` seconds of the
holder's last renewal; a holder that cannot renew for ``DIAG_LEASE_RENEW_DEADLINE``
seconds exits.  See docs/architecture.md, "Two replicas".
"""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from diagnosis_operator.entrypoints.cli import fail


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="start the operator",
        description="Start the operator: watch Diagnoses and DiagnosisPolicies and serve them.",
    )
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "-n",
        "--namespace",
        action="append",
        dest="namespaces",
        metavar="NS",
        help="serve this namespace (repeatable)",
    )
    scope.add_argument("-A", "--all-namespaces", action="store_true", default=None)
    peering = parser.add_mutually_exclusive_group()
    peering.add_argument(
        "--standalone", action="store_true", default=None, help="no peering: run one replica only"
    )
    peering.add_argument("--peering", dest="peering_name", metavar="NAME", help="kopf peering name")
    peering.add_argument(
        "--leader-election",
        action="store_true",
        default=None,
        help="every replica runs; the holder of a Lease in the operator's namespace acts",
    )
    parser.add_argument("--lease-name", metavar="NAME", help="the Lease's name (leader election)")
    parser.add_argument("--priority", type=int, help="peering priority (highest leads)")
    parser.add_argument(
        "--liveness",
        dest="liveness_endpoint",
        metavar="URL",
        help="serve a liveness probe, e.g. http://0.0.0.0:8081/healthz",
    )
    parser.add_argument("--kubeconfig", type=Path)
    parser.add_argument("--context", dest="kube_context")
    parser.add_argument("--server", dest="kube_server", metavar="URL", help="apiserver URL")
    parser.add_argument("--token-file", dest="kube_token_file", type=Path, metavar="PATH")
    parser.add_argument("--certificate-authority", dest="kube_ca_file", type=Path, metavar="PATH")
    parser.add_argument(
        "--insecure-skip-tls-verify",
        dest="kube_insecure_skip_tls_verify",
        action="store_true",
        default=None,
    )
    parser.add_argument("--prometheus-url")
    parser.add_argument("--loki-url")
    parser.add_argument("--loki-tenant")
    parser.set_defaults(handler=run)


_FLAGS = (
    "namespaces",
    "all_namespaces",
    "standalone",
    "peering_name",
    "leader_election",
    "lease_name",
    "priority",
    "liveness_endpoint",
    "kubeconfig",
    "kube_context",
    "kube_server",
    "kube_token_file",
    "kube_ca_file",
    "kube_insecure_skip_tls_verify",
    "prometheus_url",
    "loki_url",
    "loki_tenant",
)


def run(args: argparse.Namespace) -> int:
    from diagnosis_operator.settings import OperatorSettings

    overrides = {
        name: getattr(args, name) for name in _FLAGS if getattr(args, name, None) is not None
    }
    if overrides.get("namespaces"):
        overrides["namespaces"] = tuple(overrides["namespaces"])
        overrides.setdefault("all_namespaces", False)
    elif overrides.get("all_namespaces"):
        overrides["namespaces"] = ()
    try:
        settings = OperatorSettings(**overrides)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or 'settings'}: {item['msg']}"
            for item in error.errors()
        )
        return fail(f"invalid settings: {problems}")
    if settings.priority is None and not (settings.standalone or settings.leader_election):
        settings = settings.model_copy(update={"priority": secrets.randbelow(2**30) + 1})
    # Only `run` needs kopf: the other commands start without it.
    from diagnosis_operator.entrypoints.kopf.lifecycle import serve

    serve(settings)
    return 0
