"""Which instances may be drained: knowledge as data, per component kind.  Pure.

Draining takes one instance out of its Service's endpoints so its siblings carry
its load.  That is right only for interchangeable replicas: stateless app pods
behind a Service, where a pod that is not Ready is removed from the
EndpointSlice and receives no new traffic (Kubernetes documentation,
"Service" and "EndpointSlices": https://kubernetes.io/docs/concepts/services-networking/service/,
https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/;
"Pod readiness": https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-readiness-gate).

It is wrong for:

* databases and caches: an instance is a primary or a replica with its own data,
  not a copy behind a load balancer.  Taking a Redis Cluster node or a MySQL or
  PostgreSQL server out of service is a failover, decided by the data store's own
  machinery (Redis Cluster specification, "Failure detection" and "Replica
  election": https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/;
  MySQL Reference Manual, "Replication": https://dev.mysql.com/doc/refman/8.0/en/replication.html;
  PostgreSQL "High Availability, Load Balancing, and Replication":
  https://www.postgresql.org/docs/current/high-availability.html);
* proxies as we see them: their series are scraped from an admin or exporter
  endpoint (Envoy's admin listener, usually :9901,
  https://www.envoyproxy.io/docs/envoy/latest/operations/admin; the NGINX
  Prometheus exporter, :9113, https://github.com/nginx/nginx-prometheus-exporter;
  ingress-nginx metrics, :10254,
  https://kubernetes.github.io/ingress-nginx/user-guide/monitoring/), which is
  not an address in any Service's endpoints: there is nothing to drain by it;
* components of unknown kind: nothing says they are interchangeable.
"""

from __future__ import annotations

from dataclasses import dataclass

from diagnosis_operator.models.topology import ComponentKind

__all__ = ["DRAIN_POLICY", "DrainPolicy", "drainable"]


@dataclass(frozen=True, slots=True)
class DrainPolicy:
    """Whether the instances of one component kind may be drained, and why."""

    kind: ComponentKind
    drainable: bool
    reason: str


DRAIN_POLICY: dict[ComponentKind, DrainPolicy] = {
    policy.kind: policy
    for policy in (
        DrainPolicy(
            ComponentKind.APP,
            drainable=True,
            reason="stateless replicas behind a Service: siblings take the load",
        ),
        DrainPolicy(
            ComponentKind.PROXY,
            drainable=False,
            reason="its instance address is an admin or exporter endpoint, not a backend",
        ),
        DrainPolicy(
            ComponentKind.MYSQL,
            drainable=False,
            reason="a database server holds its own data: removing it is a failover",
        ),
        DrainPolicy(
            ComponentKind.REDIS,
            drainable=False,
            reason="a cache node holds its own keys and role: removing it is a failover",
        ),
        DrainPolicy(
            ComponentKind.OTHER,
            drainable=False,
            reason="nothing says its instances are interchangeable",
        ),
    )
}


def drainable(kind: ComponentKind) -> bool:
    """Pure: whether instances of a component of ``kind`` may be drained."""
    policy = DRAIN_POLICY.get(kind)
    return policy is not None and policy.drainable
