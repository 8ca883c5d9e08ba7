"""``diagnosis-operator policy ...``: commands on DiagnosisPolicy files (policies as code).

Each command is a module with ``register(subparsers)`` listed in ``COMMANDS``; adding
one is adding it there.
"""

from __future__ import annotations

from typing import Any

from diagnosis_operator.entrypoints.cli import policy_render, policy_test

COMMANDS = (policy_render, policy_test)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "policy",
        help="work with DiagnosisPolicy files: render their alerting rules, test them",
        description="Commands on DiagnosisPolicy YAML files, for GitOps repositories and CI.",
    )
    commands = parser.add_subparsers(dest="policy_command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(commands)
