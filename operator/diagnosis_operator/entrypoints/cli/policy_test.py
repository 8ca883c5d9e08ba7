"""`diagnosis-operator policy test FILE...`: a policy's expected outcomes on incident bundles.

In the spirit of ``promtool test rules``: each test file (``api/policytest.py``)
names a DiagnosisPolicy manifest and incident bundles with what each should
give (root cause, failure mode, which proposed actions the guards would run,
leave to a dry run, hold for approval or refuse, and why).  Each bundle is
diagnosed offline with the policy (``diagnose --bundle DIR --policy FILE``)
and compared (``core.policytest``).

Exit status: 0 every test passed; 1 a test differs (a diff per field is
printed); 2 a test file, policy or bundle cannot be used (the message names the
file and the field).  A bundle is a folder (relative to the test file) or the
name of a generator in ``examples/incidents`` (found above the test file or the
working directory; run once per name and invocation).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from diagnosis_operator.api.policytest import PolicyTestCase, PolicyTestFile
from diagnosis_operator.core.policytest import Outcome, compare, render_differences

GENERATOR = Path("examples") / "incidents" / "generate.py"


class TestFileError(ValueError):
    """A test file, policy or bundle that cannot be used; names the file and field."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "test",
        help="check a policy's expected outcomes on incident bundles (exit 1 on a difference)",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="policy test files (YAML)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    failed = total = 0
    with tempfile.TemporaryDirectory(prefix="policy-test-") as scratch:
        bundles = _Bundles(Path(scratch))
        for name in args.files:
            try:
                results = _run_file(Path(name), bundles)
            except TestFileError as error:
                print(f"policy test: error: {error}", file=sys.stderr)
                return 2
            total += len(results)
            failed += sum(1 for passed in results if not passed)
    print(f"{total} test(s), {failed} failed")
    return 1 if failed else 0


def load_test_file(path: Path) -> PolicyTestFile:
    """Read and validate a test file; ``TestFileError`` names the file and the field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise TestFileError(f"{path}: cannot read: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise TestFileError(f"{path}: not YAML: {error}") from None
    try:
        return PolicyTestFile.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            ".".join(str(part) for part in item["loc"]) + f": {item['msg']}"
            if item["loc"]
            else item["msg"]
            for item in error.errors(include_input=False)[:5]
        )
        raise TestFileError(f"{path}: {problems}") from None


def _run_file(path: Path, bundles: _Bundles) -> list[bool]:
    from diagnosis_operator.entrypoints.cli.policy_files import PolicyFileError, load_policy

    test_file = load_test_file(path)
    policy_path = Path(os.path.normpath(path.parent / test_file.policy))
    try:
        policy = load_policy(policy_path)
    except PolicyFileError as error:
        raise TestFileError(f"{path}: policy: {error}") from None
    print(f"{path}: policy {policy.name} ({policy_path})")
    results = []
    for index, case in enumerate(test_file.tests):
        folder = bundles.resolve(case.bundle, base=path.parent, where=f"{path}: tests.{index}")
        outcome = _outcome(folder, policy=policy, where=f"{path}: tests.{index}")
        differences = compare(case.expect, outcome)
        print(f"  {'PASS' if not differences else 'FAIL'} {_title(case, index)}")
        for line in render_differences(differences):
            print(f"  {line}")
        results.append(not differences)
    return results


def _title(case: PolicyTestCase, index: int) -> str:
    return f"tests.{index} {case.title}"


def _outcome(folder: Path, *, policy: Any, where: str) -> Outcome:
    from diagnosis_operator.adapters.bundle import BundleError
    from diagnosis_operator.entrypoints.cli.diagnose import diagnose_bundle, guard_preview

    try:
        result = diagnose_bundle(folder, policy=policy)
    except (BundleError, OSError) as error:
        raise TestFileError(f"{where}.bundle: {folder}: {error}") from None
    except ValueError as error:  # the policy cannot be used (topology, signalOverrides)
        raise TestFileError(f"{where}: policy {policy.where}: {error}") from None
    return Outcome(
        root_cause=result.root_cause.component,
        failure_mode=result.root_cause.failure_mode,
        actions=guard_preview(result, policy),
    )


class _Bundles:
    """Bundle folders by name: a folder as it is, a generator's name generated once."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.generated: dict[str, Path] = {}

    def resolve(self, bundle: str, *, base: Path, where: str) -> Path:
        folder = base / bundle
        if folder.is_dir():
            return folder
        if bundle in self.generated:
            return self.generated[bundle]
        generator = _find_generator(base)
        if generator is None or "/" in bundle:
            raise TestFileError(
                f"{where}.bundle: {bundle!r} is neither a folder (relative to the test file) "
                f"nor a generator name ({GENERATOR} not found above {base} or here)"
            )
        answer = subprocess.run(
            [sys.executable, str(generator), bundle, "--out", str(self.scratch)],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if answer.returncode != 0:
            why = answer.stderr.strip().splitlines()[-1:] or ["failed"]
            raise TestFileError(f"{where}.bundle: {bundle!r}: {generator}: {why[0]}")
        self.generated[bundle] = self.scratch / bundle
        return self.generated[bundle]


def _find_generator(base: Path) -> Path | None:
    for folder in (base.resolve(), *base.resolve().parents, Path.cwd()):
        candidate = folder / GENERATOR
        if candidate.is_file():
            return candidate
    return None
