"""``diagnosis-operator policy render FILE... [--format prometheusrule|rules|loki]``.

Prints the alerting rules rendered from each DiagnosisPolicy in the files
(``core.rules``), for GitOps repositories that commit the output:

* ``prometheusrule`` (default): one ``PrometheusRule`` object per policy (YAML
  documents), as the operator applies it with ``alerts.sync: true`` but without the
  owner reference (a committed object has no policy uid to point at);
* ``rules``: a Prometheus rule file (``groups:``) for ``rule_files``;
* ``loki``: a Loki ruler file (``groups:``) with the LogQL rules of the log symptoms.

A policy without ``metadata.namespace`` takes ``--namespace``.  Errors name the file,
the document and the field, and exit with status 2; nothing is printed then.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from diagnosis_operator.entrypoints.cli import fail

if TYPE_CHECKING:
    from diagnosis_operator.core.rules import RuleSet
    from diagnosis_operator.entrypoints.cli.policy_files import PolicyDocument

# The rule renderer and the policy models are imported by the command itself: every
# other subcommand (``diagnose`` above all) starts without paying for them.

FORMATS = ("prometheusrule", "rules", "loki")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "render",
        help="print the alerting rules rendered from DiagnosisPolicy files",
        description=(
            "Render each policy's symptoms and thresholds as alerting rules: a PrometheusRule "
            "object, a Prometheus rule file, or Loki ruler rules for its log symptoms."
        ),
    )
    parser.add_argument("files", nargs="+", metavar="FILE", type=Path, help="policy YAML files")
    parser.add_argument("--format", choices=FORMATS, default="prometheusrule", help="what to print")
    parser.add_argument(
        "--namespace",
        default="default",
        help="namespace of policies without metadata.namespace (default: default)",
    )
    parser.add_argument("--out", type=Path, help="write to this file instead of stdout")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from diagnosis_operator.entrypoints.cli.policy_files import PolicyFileError, load_policies

    try:
        rendered = [
            _render(document, namespace=args.namespace)
            for path in args.files
            for document in load_policies(path)
        ]
        _unique(rendered)
    except PolicyFileError as error:
        return fail(str(error))
    text = _output(rendered, output=args.format)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as error:
        return fail(f"cannot write {args.out}: {error}")
    return 0


def _render(document: PolicyDocument, *, namespace: str) -> tuple[PolicyDocument, RuleSet]:
    from diagnosis_operator.core.rules import RulesError, render_rules
    from diagnosis_operator.entrypoints.cli.policy_files import PolicyFileError

    try:
        rules = render_rules(
            document.spec, policy=document.name, namespace=document.namespace or namespace
        )
    except RulesError as error:
        raise PolicyFileError(f"{document.where}: {error}") from error
    return document, rules


def _unique(rendered: list[tuple[PolicyDocument, RuleSet]]) -> None:
    """Two policies of one namespace and name would give two rule groups of one name."""
    from diagnosis_operator.entrypoints.cli.policy_files import PolicyFileError

    seen: dict[tuple[str, str], PolicyDocument] = {}
    for document, rules in rendered:
        first = seen.setdefault((rules.namespace, rules.policy), document)
        if first is not document:
            raise PolicyFileError(
                f"{document.where}: metadata.name: policy {rules.namespace}/{rules.policy} "
                f"is also {first.where}"
            )


def _output(rendered: list[tuple[PolicyDocument, RuleSet]], *, output: str) -> str:
    import yaml

    from diagnosis_operator.core.rules import loki_rule_file, prometheus_rule, prometheus_rule_file

    if output == "prometheusrule":
        objects = [
            prometheus_rule(rules, labels=document.spec.alerts.rule_labels)
            for document, rules in rendered
        ]
        return yaml.safe_dump_all(objects, sort_keys=False, width=1 << 16)
    build = prometheus_rule_file if output == "rules" else loki_rule_file
    groups = [group for _, rules in rendered for group in build(rules)["groups"]]
    return yaml.safe_dump({"groups": groups}, sort_keys=False, width=1 << 16)
