"""Operator settings, read once at start from the environment (``DIAG_*``) and flags.

Flags given to ``diagnosis-operator run`` win over the environment; the result is
passed down explicitly (kopf ``memo``), never read again from ``os.environ``.
Signal sources named in a DiagnosisPolicy win over the defaults here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DIAG_", extra="forbid", frozen=True)

    # Where to watch.
    namespaces: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Namespaces to serve (DIAG_NAMESPACES=a,b); or all_namespaces."
    )
    all_namespaces: bool = False

    # High availability: kopf peering (one active replica at a time).
    standalone: bool = False
    peering_name: str = "diagnosis-operator"
    # kopf pauses every replica when two live peers share a priority, so replicas
    # of one Deployment must differ: None picks a random one at start (run.py).
    priority: int | None = None

    # High availability, fenced: a coordination.k8s.io Lease in operator_namespace.  With
    # it, every replica runs (same flags, no priorities); only the lease holder starts
    # kopf (standalone), the others stand by; the holder exits when it cannot renew
    # within lease_renew_deadline (< lease_duration).  See docs/architecture.md.
    leader_election: bool = False
    lease_name: str = Field(
        default="diagnosis-operator", pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"
    )
    lease_duration: float = Field(default=15.0, ge=2, le=600)
    lease_renew_deadline: float = Field(default=10.0, ge=1, le=600)
    lease_retry_period: float = Field(default=2.0, gt=0, le=60)

    # Liveness probe (kopf's): e.g. http://0.0.0.0:8081/healthz; none: no endpoint.
    liveness_endpoint: str | None = None

    # How to reach the apiserver: in-cluster, a kubeconfig, or an explicit server + token.
    kubeconfig: Path | None = None
    kube_context: str | None = None
    kube_server: str | None = None
    kube_token_file: Path | None = None
    kube_ca_file: Path | None = None
    kube_insecure_skip_tls_verify: bool = False

    # Default signal sources (a policy's own sources win).
    prometheus_url: str | None = None
    prometheus_timeout: float = Field(default=30.0, gt=0)
    prometheus_token_file: Path | None = None
    loki_url: str | None = None
    loki_tenant: str | None = None
    loki_timeout: float = Field(default=30.0, gt=0)
    loki_token_file: Path | None = None

    # Unreachable sources: retry this many times, this far apart, then fail.
    source_retries: int = Field(default=3, ge=0, le=100)
    source_retry_delay: float = Field(default=20.0, gt=0)
    # The overall deadline of one Diagnosis, retries included (DIAG_DIAGNOSIS_DEADLINE,
    # seconds): queries not answered by then count as failed and the diagnosis ends
    # Degraded or Failed with the reason DeadlineExceeded.
    diagnosis_deadline: float = Field(default=300.0, gt=0)
    # How a component's metric series are asked (DIAG_SERIES_QUERIES): "planned" (what
    # the engine reads, aggregated by instance over the series budget: core/series_plan.py)
    # or "raw" (every series of the selector, the path before; kept for comparisons).
    series_queries: str = Field(default="planned", pattern="^(planned|raw)$")

    # How often a policy's PrometheusRule (alerts.sync) is checked for drift.
    alert_rules_resync: float = Field(default=60.0, gt=0)

    # Where the full report goes (a ConfigMap beside the Diagnosis).
    write_report: bool = True

    # Remediation (service/execute.py).  The operator's own namespace holds the action
    # ledger and the pause switch; the chart sets it from the pod's namespace.
    operator_namespace: str = "diagnosis-operator"
    # The admin's tenancy configuration (cross-namespace grants, credential allow list,
    # guard caps): a ConfigMap of this name in operator_namespace (docs/multi-tenancy.md).
    tenancy_configmap: str = "diagnosis-operator-tenancy"
    # How often open remediations (approved, interrupted) and quarantine TTLs are checked.
    remediation_interval: float = Field(default=15.0, gt=0)
    # The cluster-wide budget: executed actions of every kind and diagnosis together.
    global_budget_max_actions: int = Field(default=10, ge=0)
    global_budget_window: float = Field(default=3600.0, gt=0)
    # Pods in these namespaces (fnmatch globs) are never drained; the operator's own too.
    protected_namespaces: Annotated[tuple[str, ...], NoDecode] = (
        "kube-system",
        "kube-public",
        "kube-node-lease",
    )
    drain_method: str = Field(default="quarantine", pattern="^(quarantine|evict)$")
    # Tests only: pause remediation at checkpoints (see service/execute.py).  Never set it.
    test_checkpoint_dir: Path | None = None

    @field_validator("namespaces", "protected_namespaces", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("prometheus_url", "loki_url", "kube_server")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.all_namespaces and self.namespaces:
            raise ValueError("give either namespaces or all_namespaces, not both")
        if not self.all_namespaces and not self.namespaces:
            raise ValueError("give namespaces to watch, or all_namespaces")
        if (self.kube_server is None) != (self.kube_token_file is None):
            raise ValueError("kube_server and kube_token_file go together")
        if self.kube_server is not None and self.kubeconfig is not None:
            raise ValueError("give either a kubeconfig or kube_server + kube_token_file, not both")
        if self.leader_election and not (
            self.lease_retry_period < self.lease_renew_deadline < self.lease_duration
        ):
            raise ValueError(
                "leader election needs lease_retry_period < lease_renew_deadline < lease_duration"
            )
        return self
