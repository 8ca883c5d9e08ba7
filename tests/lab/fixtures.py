"""pytest fixtures of the lab (registered in ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests.lab.stack import Lab, start_lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Generator[Lab, None, None]:
    """The whole lab stack, alerts to a sink file; every process stopped afterwards."""
    started = start_lab(workdir=tmp_path_factory.mktemp("lab"))
    try:
        yield started
    finally:
        started.stop()
