"""Round-9 lab recordings (``examples/incidents/holdout9_lab/lab``): loads and diagnoses.

Faults of real software recorded in the lab by a writer who read no engine code and ran
no diagnosis (``examples/incidents/holdout9_lab/README.md``): the app's MariaDB account
limited to one connection at a time (``MAX_USER_CONNECTIONS 1``), a cleanup cron's
blocking ``DEL`` of a big Redis set, nginx's ``limit_req`` pushed as ``60r/m`` instead of
``60r/s``, a canary instance with an open-files limit far too low, a healthy restart of
one instance (none), a cache-warming cron job (none).
Each ``expected.yaml`` was written from the injection before any diagnosis.

Scored once at first sight (``bench/firstsight.py``) on 2026-12-07 with the engine of
cd398e3, which had not seen them (``bench/results/firstsight-lab-7.json``): root 8 of 8,
whole 8 of 8, Brier 0.166; again with the engine of 8925860 (this session's merges, made
blind to the round): the same (``firstsight-lab-7-engine-8925860.json``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.integration.scored import (  # noqa: E402
    assert_expectations,
    assert_loadable,
    assert_whole,
    params,
    recorded,
    recording_verdict,
    scratch,
)

RECORDED = ROOT / "examples" / "incidents" / "holdout9_lab" / "lab"

# Wrong at first sight (firstsight-lab-7.json) and still wrong: none.
LAB_STILL_WRONG: dict[str, str] = {}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from scratch(tmp_path_factory, "holdout9-lab")


@pytest.mark.parametrize("name", params(recorded(RECORDED), LAB_STILL_WRONG))
def test_holdout9_lab_recording_as_expected(name: str, bundles: Path) -> None:
    """Root, affected instances, clients, remediations, nothing forbidden (the CLI's JSON)."""
    assert_whole(name, recording_verdict(RECORDED, name, bundles))


def test_every_recording_has_its_expectation() -> None:
    assert_expectations(RECORDED)


def test_every_recording_loads(bundles: Path) -> None:
    """Each recording unpacks into a bundle the loader accepts (``bundle validate``)."""
    assert_loadable(RECORDED, bundles)
