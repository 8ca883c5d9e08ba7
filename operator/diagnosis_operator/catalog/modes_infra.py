"""Failure modes of proxies, applications and the Kubernetes layer (pods, nodes).

Pure data (see ``mode_types``).  Metric names are those of
nginx-prometheus-exporter (``nginx_*``), ingress-nginx
(``nginx_ingress_controller_*``), Envoy (``envoy_*``), kube-state-metrics
(``kube_pod_*``, ``kube_node_*``), cAdvisor (``container_*``), node_exporter
(``node_*``) and the usual application client libraries.
"""

from __future__ import annotations

from diagnosis_operator.catalog.mode_types import APP, NODE, POD, PROXY, FailureMode, mode
from diagnosis_operator.catalog.routes import ROUTE_REFUSAL_METRIC

NGINX_CORE = "https://nginx.org/en/docs/ngx_core_module.html#worker_connections"
NGINX_STUB_STATUS = "https://nginx.org/en/docs/http/ngx_http_stub_status_module.html"
NGINX_EXPORTER = "https://github.com/nginx/nginx-prometheus-exporter"
INGRESS_NGINX_METRICS = "https://kubernetes.github.io/ingress-nginx/user-guide/monitoring/"
ENVOY_OVERLOAD = (
    "https://www.envoyproxy.io/docs/envoy/latest/configuration/operations/overload_manager/"
    "overload_manager"
)
ENVOY_ACCESS_LOG = (
    "https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage"
)
ENVOY_LISTENER_STATS = "https://www.envoyproxy.io/docs/envoy/latest/configuration/listeners/stats"
ENVOY_CIRCUIT_BREAKING = (
    "https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/circuit_breaking"
)
ENVOY_CLUSTER_STATS = (
    "https://www.envoyproxy.io/docs/envoy/latest/configuration/upstream/cluster_manager/"
    "cluster_stats"
)
KSM_POD = "https://github.com/kubernetes/kube-state-metrics/blob/main/docs/metrics/workload/pod-metrics.md"
KSM_NODE = "https://github.com/kubernetes/kube-state-metrics/blob/main/docs/metrics/cluster/node-metrics.md"
CADVISOR = "https://github.com/google/cadvisor/blob/master/docs/storage/prometheus.md"
NODE_EXPORTER = "https://github.com/prometheus/node_exporter"
K8S_EVICTION = "https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/"
K8S_RESTARTS = (
    "https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-restarts"
)
K8S_RESOURCES = "https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/"
K8S_ROLLBACK = "https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#rolling-back-a-deployment"
JVM_LINKAGE = (
    "https://docs.oracle.com/en/java/javase/21/docs/api/java.base/java/lang/NoSuchMethodError.html"
)
PROMETHEUS_PROCESS = "https://prometheus.io/docs/instrumenting/writing_clientlibs/#process-metrics"
HIKARICP = "https://github.com/brettwooldridge/HikariCP/wiki/MBean-(JMX)-Monitoring-and-Management"
PHP_FPM = "https://www.php.net/manual/en/install.fpm.configuration.php"
GO_RUNTIME = "https://pkg.go.dev/runtime"
GUNICORN = "https://docs.gunicorn.org/en/stable/design.html"
GO_X509 = "https://pkg.go.dev/crypto/x509#CertificateInvalidError"
OPENSSL_VERIFY = "https://docs.openssl.org/3.0/man3/X509_STORE_CTX_get_error/"
JAVA_SSL_HANDSHAKE = (
    "https://docs.oracle.com/en/java/javase/17/docs/api/java.base/javax/net/ssl/"
    "SSLHandshakeException.html"
)
GETADDRINFO = "https://man7.org/linux/man-pages/man3/getaddrinfo.3.html"
GO_DNS_ERROR = "https://pkg.go.dev/net#DNSError"
NODE_DNS_ERRORS = "https://nodejs.org/api/dns.html#error-codes"
SPRING_BOOT_STARTUP = "https://docs.spring.io/spring-boot/reference/features/spring-application.html#features.spring-application.startup-failure"

PROXY_MODES: tuple[FailureMode, ...] = (
    mode(
        PROXY,
        "worker exhaustion",
        metrics=(
            r"^nginx_connections_(active|waiting|reading|writing)",
            r"^nginx_ingress_controller_nginx_process_connections",
            r"^envoy_(http|listener)_downstream_cx_overflow",
            r"^envoy_listener_downstream_cx_active",
        ),
        # connections a listener refused at its own limit (its ``max_connections``,
        # the overload manager's global downstream maximum): refused work
        harm=(r"^envoy_listener_downstream_(global_)?cx_overflow",),
        logs=(
            r"worker_connections are not enough",
            r"\(24: too many open files\)",
            r"accept\(\) failed",
        ),
        sources=(
            NGINX_CORE,
            NGINX_STUB_STATUS,
            NGINX_EXPORTER,
            INGRESS_NGINX_METRICS,
            ENVOY_LISTENER_STATS,
        ),
    ),
    mode(
        PROXY,
        "circuit breaker overflow",
        # Envoy answers 503 itself, response flag UO, once a cluster's circuit
        # breaker (max connections, pending requests, requests, retries) is full
        metrics=(
            r"^envoy_cluster_circuit_breakers_\w+_open",
            r"^envoy_cluster_upstream_rq_pending_active",
        ),
        harm=(r"^envoy_cluster_upstream_(rq_pending|cx|rq_retry)_overflow",),
        logs=(r"\bUO\b", r"\{overflow\}|upstream_reset_before_response_started\{overflow"),
        sources=(ENVOY_CIRCUIT_BREAKING, ENVOY_CLUSTER_STATS, ENVOY_ACCESS_LOG),
    ),
    mode(
        PROXY,
        "overload (heap)",
        metrics=(
            r"^envoy_overload_",
            r"^envoy_server_memory_(allocated|heap_size|physical_size)",
        ),
        logs=(
            r"envoy overloaded",
            r"overload.?manager",
            r"response_flags\W{1,3}om\b|\"-\" om\b",
        ),
        sources=(ENVOY_OVERLOAD, ENVOY_ACCESS_LOG),
    ),
)

APP_MODES: tuple[FailureMode, ...] = (
    mode(
        APP,
        "CPU burn (saturation)",
        metrics=(
            r"^container_cpu_usage_seconds",
            r"^container_cpu_cfs_throttled",
            r"^process_cpu_seconds",
            r"^cpu usage$",
        ),
        logs=(r"catastrophic backtracking|regex.{0,20}(timeout|backtrack)",),
        sources=(CADVISOR, PROMETHEUS_PROCESS, K8S_RESOURCES),
    ),
    mode(
        APP,
        "memory leak",
        metrics=(
            r"^container_memory_(working_set|rss)",
            r"^process_resident_memory_bytes",
            r"^jvm_memory_(used|committed)_bytes",
            r"^go_memstats_heap_(inuse|alloc)_bytes",
            r"^nodejs_heap_size_used_bytes",
        ),
        logs=(
            r"outofmemoryerror|java heap space",
            r"javascript heap out of memory",
            r"fatal error: runtime: out of memory|\bmemoryerror\b",
        ),
        sources=(CADVISOR, PROMETHEUS_PROCESS, GO_RUNTIME, K8S_RESOURCES),
    ),
    mode(
        APP,
        "worker exhaustion",
        metrics=(
            r"^hikaricp_connections_(pending|timeout)",
            r"^go_sql_stats_(wait_count|connections_in_use)",
            r"^phpfpm_(max_children_reached|listen_queue)",
        ),
        logs=(
            r"connection is not available, request timed out",
            r"server reached pm\.max_children",
            r"pool (is )?exhausted|too many open files",
        ),
        sources=(HIKARICP, PHP_FPM),
    ),
    mode(
        APP,
        "bad release",
        # its own routes, served to every client before, refused since (``catalog.routes``)
        metrics=(
            r"^kube_pod_container_info",
            r"^kube_replicaset_",
            r"^kube_deployment_status_",
            ROUTE_REFUSAL_METRIC,
        ),
        logs=(
            r"\bpanic:|nil pointer dereference|assignment to entry in nil map",
            r"nullpointerexception|traceback \(most recent call last\)",
            r"unhandled exception|typeerror:",
            # the JVM's linkage errors: a build whose classes no longer match its
            # dependencies fails at run time, on every call of the changed method
            r"nosuchmethoderror|nosuchfielderror|noclassdeffounderror|abstractmethoderror",
            r"incompatibleclasschangeerror",
        ),
        sources=(K8S_ROLLBACK, KSM_POD, JVM_LINKAGE),
    ),
    # A dependency outside the topology (a provider's API, a carrier's DNS) fails
    # the app's outbound calls: the app's own lines say how, in its TLS library's
    # or resolver's words.
    mode(
        APP,
        "external dependency",
        logs=(
            r"x509: certificate (has expired|signed by unknown authority|is (not )?valid)",
            r"certificate (has )?expired|certificate verify failed|cert_has_expired",
            r"tls: (failed to verify|handshake failure)|sslhandshakeexception|pkix path",
            r"temporary failure in name resolution|name or service not known",
            r"\bno such host\b|\beai_again\b|\benotfound\b|unknownhostexception",
            r"could not resolve host|nodename nor servname",
        ),
        sources=(
            GO_X509,
            OPENSSL_VERIFY,
            JAVA_SSL_HANDSHAKE,
            GETADDRINFO,
            GO_DNS_ERROR,
            NODE_DNS_ERRORS,
        ),
    ),
)

POD_MODES: tuple[FailureMode, ...] = (
    mode(
        POD,
        "crash loop (OOM kill)",
        metrics=(
            r"^kube_pod_container_status_restarts",
            r"^kube_pod_container_status_(waiting|last_terminated|terminated)_reason",
            r"^container_oom_events",
            r"^(container|process)_start_time_seconds",
            # an OOM kill is memory reaching the container's limit
            r"^container_memory_(working_set|rss)",
            r"^process_resident_memory_bytes",
        ),
        logs=(
            r"oomkilled|oom-kill|killed process \d+",
            r"crashloopbackoff|back-off restarting failed container",
            # a process's start-up line, again and again: it keeps restarting
            r"booting worker with pid|starting gunicorn|started \w+ in [\d.]+ seconds",
        ),
        sources=(
            KSM_POD,
            CADVISOR,
            K8S_RESTARTS,
            K8S_RESOURCES,
            PROMETHEUS_PROCESS,
            GUNICORN,
            SPRING_BOOT_STARTUP,
        ),
    ),
)

NODE_MODES: tuple[FailureMode, ...] = (
    mode(
        NODE,
        "node disk pressure",
        metrics=(
            r"^node_filesystem_(avail|free)_bytes",
            r"^kube_node_status_condition",
            r"^kube_pod_status_reason",
            r"^container_fs_",
        ),
        logs=(
            r"no space left on device",
            r"diskpressure|low on resource: ephemeral-storage",
            r"\bevicted\b",
        ),
        sources=(K8S_EVICTION, NODE_EXPORTER, KSM_NODE, KSM_POD),
    ),
    mode(
        NODE,
        "node memory pressure",
        metrics=(r"^node_memory_memavailable_bytes", r"^node_vmstat_oom_kill"),
        logs=(r"memorypressure|low on resource: memory",),
        sources=(K8S_EVICTION, NODE_EXPORTER, KSM_NODE),
    ),
)

INFRA_MODES: tuple[FailureMode, ...] = PROXY_MODES + APP_MODES + POD_MODES + NODE_MODES
