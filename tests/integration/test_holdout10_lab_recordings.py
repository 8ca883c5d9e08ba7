"""Round-10 lab recordings (``examples/incidents/holdout10_lab/lab``): loads and diagnoses.

Faults of real software recorded in the lab by a writer who read no engine code and ran
no diagnosis (``examples/incidents/holdout10_lab/README.md``): a BI dashboard's self-join
report on the primary, Redis refusing writes after failed RDB snapshots (MISCONF), an
nginx location whose ``proxy_pass`` strips the prefix (404 for every item), a canary
instance under a CPU quota far too small, a partner's sync walking item ids that do not
exist (cache penetration); and three healthy windows (none): an uptime monitor hanging
up after 100 ms (499s), a backup cron's ``BGSAVE`` every 10 s, a DBA's ``ANALYZE TABLE``.
Each ``expected.yaml`` was written from the injection before any diagnosis.

Scored once at first sight by someone other than the writer, on d61d607 (the engine of
2c36512, which had not seen them; ``bench/results/firstsight-lab-8.json``): root 6 of 8,
whole 5 of 8.  The wrong ones are strict expected failures in ``LAB_STILL_WRONG``.
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

RECORDED = ROOT / "examples" / "incidents" / "holdout10_lab" / "lab"

# Wrong at first sight (firstsight-lab-8.json) and still wrong, each with what went wrong.
LAB_STILL_WRONG: dict[str, str] = {}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from scratch(tmp_path_factory, "holdout10-lab")


@pytest.mark.parametrize("name", params(recorded(RECORDED), LAB_STILL_WRONG))
def test_holdout10_lab_recording_as_expected(name: str, bundles: Path) -> None:
    """Root, affected instances, clients, remediations, nothing forbidden (the CLI's JSON)."""
    assert_whole(name, recording_verdict(RECORDED, name, bundles))


def test_every_recording_has_its_expectation() -> None:
    assert_expectations(RECORDED)


def test_every_recording_loads(bundles: Path) -> None:
    """Each recording unpacks into a bundle the loader accepts (``bundle validate``)."""
    assert_loadable(RECORDED, bundles)
