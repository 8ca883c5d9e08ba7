"""More failure modes: PostgreSQL resetting after a backend crash, a pod out of ephemeral storage.

Pure data (see ``mode_types``), beside ``modes_db`` and ``modes_infra`` and in the same
vocabulary (the exporters' metric names, the servers' and the kubelet's own messages).
"""

from __future__ import annotations

from diagnosis_operator.catalog.mode_types import POD, POSTGRES, FailureMode, mode
from diagnosis_operator.catalog.modes_db import PG_ERRCODES, PG_EXPORTER
from diagnosis_operator.catalog.modes_infra import CADVISOR, K8S_EVICTION, KSM_POD

PG_OVERCOMMIT = (
    "https://www.postgresql.org/docs/current/kernel-resources.html#LINUX-MEMORY-OVERCOMMIT"
)
PG_WAL_RECOVERY = "https://www.postgresql.org/docs/current/wal-intro.html"
K8S_EPHEMERAL = (
    "https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/"
    "#local-ephemeral-storage"
)

MORE_MODES: tuple[FailureMode, ...] = (
    mode(
        POSTGRES,
        "crash or restart",
        # one backend killed (the kernel's OOM killer: signal 9) makes the postmaster
        # end every other session and run crash recovery; meanwhile every new
        # connection is refused "the database system is in recovery mode" (57P03) and
        # the sessions it ended got "terminating connection because of crash of another
        # server process" (57P02)
        metrics=(r"^pg_up$", r"^pg_postmaster_start_time_seconds"),
        logs=(
            r"server process \(pid \d+\) was terminated by signal",
            r"terminating any other active server processes",
            r"all server processes terminated; reinitializing",
            r"database system was (not properly shut down|interrupted)",
            r"the database system is in recovery mode",
        ),
        callers=(
            r"the database system is in recovery mode|\b57p03\b",
            r"terminating connection because of crash of another server process|\b57p02\b",
        ),
        sources=(PG_OVERCOMMIT, PG_WAL_RECOVERY, PG_ERRCODES, PG_EXPORTER),
    ),
    mode(
        POD,
        "ephemeral storage exhausted",
        # a container writing past its ephemeral-storage limit (its emptyDir, its
        # writable layer, its logs) is evicted by the kubelet, as are the pods using
        # most of a node's local storage when the node runs low
        metrics=(r"^container_fs_usage_bytes", r"^kube_pod_status_reason"),
        logs=(
            r"ephemeral local storage usage exceeds",
            r"low on resource: ephemeral-storage",
            r"usage of emptydir volume .{0,80} exceeds the limit",
        ),
        sources=(K8S_EPHEMERAL, K8S_EVICTION, CADVISOR, KSM_POD),
    ),
)
