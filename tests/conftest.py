"""Shared pytest configuration.

Fixture plugins live in their own modules (one per real component) and are
registered here, so each can be read on its own.
"""

import os
import shutil
import tempfile

import pytest
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

# A whole run writes a few GB (bundles, databases, a TSDB per Prometheus): on a disk
# nearly full it would fail hours of tests one by one with "No space left on device".
# Stop at once instead, saying where and how much.  DIAG_TEST_MIN_FREE_GB=0 disables it.
_MIN_FREE_GB_DEFAULT = 2.0


def pytest_sessionstart(session: pytest.Session) -> None:
    del session
    minimum = float(os.environ.get("DIAG_TEST_MIN_FREE_GB", _MIN_FREE_GB_DEFAULT))
    folder = tempfile.gettempdir()
    free = shutil.disk_usage(folder).free / 2**30
    if free < minimum:
        pytest.exit(
            f"only {free:.1f} GB free under {folder}: a whole run needs at least {minimum:g} GB "
            "for its temporary folders (free some space, or set "
            "DIAG_TEST_MIN_FREE_GB to a lower figure)",
            returncode=3,
        )
