"""Eleventh held-out set (``examples/incidents/holdout11``): its diagnoses since first sight.

Written blind (the writer read no engine code and ran no diagnosis) from public
postmortems, issue threads and vendor documentation: MySQL 8's TempTable pools full, a
MySQL waiting on reverse DNS for every login, MariaDB's per-user connection limit;
PgBouncer's transaction pooling against named prepared statements, PostgreSQL 16's JIT
after an upgrade, a migration queued behind an anti-wraparound vacuum; Redis swapped out,
Redis's idle timeout under a client pool; and the edge, application, client and
healthy-but-noisy windows listed in the README.

Scored once at first sight by someone else, on 6e723bc, which had not seen them
(``bench/results/firstsight-round-11.json``): root 22 of 30, whole 19 of 30.  The
scenarios still diagnosed wrong are strict expected failures in ``STILL_WRONG``, so a fix
in the engine (never in these data) must drop the name.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from examples.incidents import holdout11  # noqa: E402

from tests.integration.scored import assert_whole, load_yaml, params, scratch, verdict  # noqa: E402

# Wrong at first sight (bench/results/firstsight-round-11.json) and still wrong, each with
# what went wrong.
STILL_WRONG: dict[str, str] = {
    "shop-mariadb-max-user-connections": "the database not named (the API named root)",
    "exam-school-nat-none": "a school's NAT address (many pupils) named a flooding client",
}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from scratch(tmp_path_factory, "holdout11")


@pytest.mark.parametrize("name", params(list(holdout11.SCENARIOS), STILL_WRONG))
def test_holdout11_whole_diagnosis_as_expected(name: str, bundles: Path) -> None:
    """Root, affected instances, clients, remediations, nothing forbidden (the CLI's JSON)."""
    folder = bundles / name
    if not folder.exists():
        holdout11.generate(name, bundles)
    scored = verdict(folder, load_yaml(holdout11.expected_path(name)))
    assert_whole(name, scored)


def test_every_scenario_has_its_expectation() -> None:
    assert len(holdout11.SCENARIOS) >= 25
    for name in holdout11.SCENARIOS:
        expected = load_yaml(holdout11.expected_path(name))
        assert expected["scenario"] == name
        assert "rootCause" in expected and "remediations" in expected, name


def test_every_bundle_loads(bundles: Path) -> None:
    """Each generated bundle passes the loader (what ``bundle validate`` checks)."""
    from diagnosis_operator.adapters.bundle import load_bundle

    for name in holdout11.SCENARIOS:
        folder = bundles / name
        if not folder.exists():
            holdout11.generate(name, bundles)
        assert load_bundle(folder) is not None, name


def test_generation_is_deterministic(tmp_path: Path) -> None:
    """The same scenario written twice gives the same bytes."""
    name = next(iter(holdout11.SCENARIOS))
    one = holdout11.generate(name, tmp_path / "one")
    two = holdout11.generate(name, tmp_path / "two")
    for path in sorted(p for p in one.rglob("*") if p.is_file()):
        assert path.read_bytes() == (two / path.relative_to(one)).read_bytes(), path
