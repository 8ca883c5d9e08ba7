"""Shared pytest configuration.

Fixture plugins live in their own modules (one per real component) and are
registered here, so each can be read on its own.
"""

from hypothesis import HealthCheck, settings

pytest_plugins: list[str] = [
    # "tests.services.prometheus", ... (each helper module appends itself)
    "tests.services.ports",
    "tests.services.prometheus",
    "tests.services.mariadb",
    "tests.services.redis",
    "tests.services.nginx",
    "tests.services.alertmanager",
    "tests.services.loki",
    "tests.lab.fixtures",
    "tests.controlplane.cluster",
    "tests.controlplane.operator",
]

# Property tests judge behaviour, never speed: no per-example deadline and no
# "input generation is slow" health check, which a busy 2-core machine trips.
settings.register_profile("project", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("project")
