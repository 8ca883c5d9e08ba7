"""``kubectl-diagnose``: the kubectl plugin (``kubectl diagnose ...``).

    kubectl diagnose create --service api --since 30m [--policy P] [--mode dry-run]
    kubectl diagnose list [-A]
    kubectl diagnose show NAME
    kubectl diagnose report NAME [--format markdown|json|html] [--out FILE] [--open]
    kubectl diagnose approve NAME ACTION_KEY
    kubectl diagnose pause [--reason TEXT] | resume

It talks to the apiserver with the user's kubeconfig (``--kubeconfig``,
``--context``, ``-n``) and the user's own RBAC.  Approvals and the pause switch are
written as described in ``models/controls.py`` (docs/approvals.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import webbrowser
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from diagnosis_operator import __version__
from diagnosis_operator.entrypoints.cli.kubectl.client import Cluster, KubeCluster, PluginError
from diagnosis_operator.entrypoints.cli.kubectl.commands import (
    cmd_approve,
    cmd_create,
    cmd_list,
    cmd_pause,
    cmd_report,
    cmd_resume,
    cmd_show,
)

PROG = "kubectl-diagnose"
DEFAULT_OPERATOR_NAMESPACE = "diagnosis-operator"


def _add_connection_flags(parser: argparse.ArgumentParser, *, default: Any) -> None:
    parser.add_argument(
        "--kubeconfig", default=default, help="path to the kubeconfig (default: $KUBECONFIG)"
    )
    parser.add_argument("--context", default=default, help="kubeconfig context to use")
    parser.add_argument(
        "-n", "--namespace", default=default, help="namespace (default: the context's)"
    )
    parser.add_argument(
        "--operator-namespace",
        default=(
            os.environ.get("DIAG_OPERATOR_NAMESPACE", DEFAULT_OPERATOR_NAMESPACE)
            if default is None
            else default
        ),
        help=f"where the operator runs, for pause/resume (default: {DEFAULT_OPERATOR_NAMESPACE})",
    )


def _add_report(commands: Any, common: argparse.ArgumentParser) -> None:
    report = commands.add_parser("report", parents=[common], help="the full report of a diagnosis")
    report.add_argument("name")
    report.add_argument("--format", choices=("markdown", "json", "html"), default="markdown")
    report.add_argument("--out", metavar="FILE", help="html: write the page here")
    report.add_argument(
        "--open", action="store_true", help="html: open the page in a browser (a temp file)"
    )
    report.set_defaults(run=cmd_report)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubectl diagnose",
        description="Create, read and approve diagnoses of the diagnosis-operator.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _add_connection_flags(parser, default=None)
    # The same flags after the subcommand (``kubectl diagnose show X -n ns``), where
    # they override the ones before it only when given.
    common = argparse.ArgumentParser(add_help=False)
    _add_connection_flags(common, default=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    create = commands.add_parser(
        "create", parents=[common], help="diagnose a component over a recent window"
    )
    create.add_argument("--service", required=True, help="component of the policy's topology")
    create.add_argument("--since", default="30m", help="how far back to look (default: 30m)")
    create.add_argument("--policy", help="DiagnosisPolicy (default: the namespace's only one)")
    create.add_argument(
        "--mode",
        choices=("observe", "dry-run", "remediate"),
        default="observe",
        help="observe (default), dry-run (plan and guard), remediate (act as allowed)",
    )
    create.add_argument("--route", help="HTTP route the symptom shows on, e.g. /api/orders")
    create.add_argument("--name", help="name of the Diagnosis (default: generated)")
    create.set_defaults(run=cmd_create)

    listing = commands.add_parser("list", parents=[common], help="list diagnoses")
    listing.add_argument("-A", "--all-namespaces", action="store_true")
    listing.set_defaults(run=cmd_list)

    show = commands.add_parser("show", parents=[common], help="status summary of a diagnosis")
    show.add_argument("name")
    show.set_defaults(run=cmd_show)

    _add_report(commands, common)

    approve = commands.add_parser(
        "approve", parents=[common], help="approve a proposed remediation"
    )
    approve.add_argument("name")
    approve.add_argument("action_key", help="idempotency key (or a unique prefix, or the action)")
    approve.set_defaults(run=cmd_approve)

    pause = commands.add_parser(
        "pause", parents=[common], help="pause all remediation (diagnoses continue)"
    )
    pause.add_argument("--reason", help="why (shown to others)")
    pause.set_defaults(run=cmd_pause)

    resume = commands.add_parser("resume", parents=[common], help="resume remediation")
    resume.set_defaults(run=cmd_resume)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    cluster: Cluster | None = None,
    out: TextIO | None = None,
    opener: Callable[[str], object] | None = None,
) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "open", False) and args.format != "html":
        print(f"{PROG}: error: --open needs --format html", file=sys.stderr)
        return 2
    args.opener = opener or webbrowser.open
    stream = out or sys.stdout
    try:
        if cluster is None:
            cluster = KubeCluster(kubeconfig=args.kubeconfig, context=args.context)
        return int(args.run(args, cluster, stream))
    except PluginError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
