"""PostgreSQL resetting after a backend crash; a pod out of ephemeral storage (``modes_more``)."""

from __future__ import annotations

from diagnosis_operator.catalog.failure_modes import modes_of
from diagnosis_operator.catalog.mode_types import NODE, POD, POSTGRES
from diagnosis_operator.core.diagnosis.modes import rank_modes


def test_a_backend_killed_and_every_session_reset_is_a_postgres_crash() -> None:
    own = [
        "LOG:  server process (PID 46550) was terminated by signal 9: Killed",
        "LOG:  terminating any other active server processes",
        "LOG:  all server processes terminated; reinitializing",
        "FATAL:  the database system is in recovery mode",
    ] * 3
    callers = [
        "org.postgresql.util.PSQLException: FATAL: the database system is in recovery mode "
        "(SQLSTATE 57P03)",
        "FATAL: terminating connection because of crash of another server process",
    ] * 5
    too_many = ["FATAL:  sorry, too many clients already"]
    fits = rank_modes(
        modes_of([POSTGRES]),
        metric_names=["pg_up", "pg_stat_activity_count"],
        own_lines=own + too_many,
        caller_lines=callers,
    )
    assert fits[0].mode.name == "crash or restart"


def test_a_pod_over_its_ephemeral_storage_limit_is_named_so() -> None:
    own = [
        "Warning Evicted pod/report-svc-a1 Pod ephemeral local storage usage exceeds the total "
        "limit of containers 2Gi."
    ] * 4
    fits = rank_modes(
        modes_of([POD, NODE]),
        metric_names=["container_fs_usage_bytes"],
        own_lines=own,
        caller_lines=[],
    )
    assert fits[0].mode.name == "ephemeral storage exhausted"
    # a node low on memory is no storage matter
    memory = ["Warning Evicted pod/x The node was low on resource: memory."] * 4
    fits = rank_modes(modes_of([POD, NODE]), metric_names=[], own_lines=memory, caller_lines=[])
    assert fits[0].mode.name != "ephemeral storage exhausted"
