"""Round-7 lab recordings (``examples/incidents/holdout7_lab/lab``): loads and diagnoses.

Faults of real software recorded in the lab by a writer who read no engine code and ran
no diagnosis (``examples/incidents/holdout7_lab/README.md``): a metadata lock behind an
idle transaction, a primary switched to read_only, a crashed API instance, a nightly
logical backup (healthy), a slowloris client.  Each ``expected.yaml`` was written from
the injection before any diagnosis.

Scored at first sight on 2026-12-06 (``bench/results/firstsight-lab-5.json``, the engine of
4f03075; ``firstsight-lab-5-engine-of-session-end.json``, the engine after this session's
fixes, which had not seen them either); what is still wrong is a strict expected failure.
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

RECORDED = ROOT / "examples" / "incidents" / "holdout7_lab" / "lab"

# Wrong at first sight (firstsight-lab-5.json) and still wrong, each with what went wrong.
LAB_STILL_WRONG: dict[str, str] = {}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from scratch(tmp_path_factory, "holdout7-lab")


@pytest.mark.parametrize("name", params(recorded(RECORDED), LAB_STILL_WRONG))
def test_holdout7_lab_recording_as_expected(name: str, bundles: Path) -> None:
    """Root, affected instances, clients, remediations, nothing forbidden (the CLI's JSON)."""
    assert_whole(name, recording_verdict(RECORDED, name, bundles))


def test_every_recording_has_its_expectation() -> None:
    assert_expectations(RECORDED)


def test_every_recording_loads(bundles: Path) -> None:
    """Each recording unpacks into a bundle the loader accepts (``bundle validate``)."""
    assert_loadable(RECORDED, bundles)
