"""Shared pytest configuration.

Fixture plugins live in their own modules (one per real component) and are
registered here, so each can be read on its own.
"""

pytest_plugins: list[str] = [
    # "tests.services.prometheus", ... (each helper module appends itself)
    "tests.services.ports",
    "tests.services.prometheus",
    "tests.services.mariadb",
    "tests.services.redis",
    "tests.services.nginx",
    "tests.services.alertmanager",
    "tests.services.loki",
    "tests.controlplane.cluster",
    "tests.controlplane.operator",
]
