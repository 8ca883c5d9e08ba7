"""`diagnosis-operator diagnose --bundle DIR`: diagnose an incident bundle offline.

Progress goes to stderr (loading, collecting, analysing); the result to stdout
or ``--out`` as JSON (the contract of docs/incident-bundle.md), Markdown or HTML.
A bundle that cannot be read exits with status 2 and says what and where.

The exit status is honest about the evidence (the result's ``outcome``, see
``core.diagnosis.coverage``): 0 when every query answered (``complete``), 3 when
some failed and the diagnosis rests on the rest (``degraded``: the output says
so and the confidence is scaled down), 4 when there was nothing to conclude
from (``failed``: no data in the window, or every query failed; the root cause
is ``unknown``, never "no incident").  The output is written in every case.

Enrichment (optional): with ``--mysql-url`` and/or ``--redis-url`` the diagnosis
is sharpened by asking those servers directly (``service/enrich.py``: EXPLAIN of
the slow statements its evidence quotes, the Redis slow log, INFO and LATENCY),
within ``--enrich-timeout`` seconds; a server that fails becomes a warning.

    DIAGNOSIS_MYSQL_PASSWORD=... diagnosis-operator diagnose --bundle DIR \
        --mysql-url mysql://diag@10.0.0.5:3306/shop --mysql-component orders-db

Passwords never go on the command line (other users of the machine can read
it): MySQL's comes from ``$DIAGNOSIS_MYSQL_PASSWORD``, Redis' from
``$DIAGNOSIS_REDIS_PASSWORD``; a URL that carries one is refused.  A bad URL or
timeout exits with status 2 and says which flag is wrong.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from diagnosis_operator.entrypoints.cli import fail
from diagnosis_operator.models.bundle import Bundle, LoadProgress
from diagnosis_operator.models.engine import EngineSettings, PolicySignal
from diagnosis_operator.models.findings import DiagnosisResult
from diagnosis_operator.models.topology import Topology

if TYPE_CHECKING:
    from diagnosis_operator.entrypoints.bootstrap.enrichment import EnrichmentSettings
    from diagnosis_operator.entrypoints.cli.policy_files import PolicyDocument
    from diagnosis_operator.models.preview import ActionPreview

FORMATS = ("json", "markdown", "html")
MYSQL_PASSWORD_ENV = "DIAGNOSIS_MYSQL_PASSWORD"  # noqa: S105 (a variable name)
REDIS_PASSWORD_ENV = "DIAGNOSIS_REDIS_PASSWORD"  # noqa: S105 (a variable name)
DEFAULT_ENRICH_TIMEOUT = 10.0
EXIT_DEGRADED = 3
EXIT_NO_CONCLUSION = 4
# The namespace of a policy file without metadata.namespace (drain targets, keys).
DEFAULT_NAMESPACE = "default"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "diagnose",
        help="diagnose an incident bundle offline (no cluster needed)",
        description=(
            "Read an incident bundle (incident.yaml, metrics.om, logs.jsonl) and diagnose it."
        ),
    )
    parser.add_argument("--bundle", required=True, metavar="DIR", help="the incident bundle folder")
    parser.add_argument(
        "--format", choices=FORMATS, default="json", help="output format (default: json)"
    )
    parser.add_argument("--out", metavar="FILE", help="write the result to FILE instead of stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument(
        "--policy",
        metavar="FILE",
        help="a DiagnosisPolicy manifest: use its topology, thresholds and signalOverrides, "
        "and show which proposed actions its guards would run or refuse",
    )
    enrich = parser.add_argument_group(
        "enrichment", "ask MySQL / Redis directly (read-only; optional, never fatal)"
    )
    enrich.add_argument(
        "--mysql-url",
        metavar="URL",
        help=f"mysql://user@host[:port][/database]; the password from ${MYSQL_PASSWORD_ENV}",
    )
    enrich.add_argument(
        "--mysql-component",
        metavar="NAME",
        help="explain only the statements of this component's evidence (default: any)",
    )
    enrich.add_argument(
        "--redis-url",
        metavar="URL",
        help=f"redis://host[:port][/db] (or rediss://, unix://); the password from "
        f"${REDIS_PASSWORD_ENV}",
    )
    enrich.add_argument(
        "--redis-component",
        metavar="NAME",
        help="the component the Redis observations belong to (default: redis)",
    )
    enrich.add_argument(
        "--enrich-timeout",
        type=float,
        default=DEFAULT_ENRICH_TIMEOUT,
        metavar="SECONDS",
        help=f"time budget of the whole enrichment step (default: {DEFAULT_ENRICH_TIMEOUT:g})",
    )
    parser.set_defaults(handler=run)


class EnrichmentError(ValueError):
    """An enrichment flag that cannot be used; the message names the flag."""


def _with_password(url: str, *, password: str | None, flag: str, env: str) -> str:
    """``url`` with ``password`` put in; refuses one given on the command line.  Pure."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is not None:
        raise EnrichmentError(
            f"{flag}: do not put the password in the URL (command lines are visible to "
            f"other users); set ${env} instead"
        )
    if password is None or parts.scheme == "unix":
        return url
    user = urllib.parse.quote(urllib.parse.unquote(parts.username or ""), safe="")
    secret = urllib.parse.quote(password, safe="")
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:{secret}@{host}"))


def enrichment_settings(
    args: argparse.Namespace, *, environ: dict[str, str] | None = None
) -> EnrichmentSettings:
    """The enrichment the flags ask for (``configured`` is False without a URL).

    Raises ``EnrichmentError`` saying which flag is wrong; never echoes a password.
    """
    from pydantic import SecretStr, ValidationError

    from diagnosis_operator.entrypoints.bootstrap.enrichment import (
        EnrichmentSettings,
        mysql_settings_from_url,
    )

    env = dict(os.environ) if environ is None else environ
    mysql = None
    if args.mysql_url:
        if urllib.parse.urlsplit(args.mysql_url).password is not None:
            raise EnrichmentError(
                "--mysql-url: do not put the password in the URL (command lines are visible "
                f"to other users); set ${MYSQL_PASSWORD_ENV} instead"
            )
        password = env.get(MYSQL_PASSWORD_ENV)
        try:
            mysql = mysql_settings_from_url(url=args.mysql_url, password=password)
        except ValueError as error:
            hint = f" (set ${MYSQL_PASSWORD_ENV})" if password is None else ""
            raise EnrichmentError(f"--mysql-url {args.mysql_url}: {error}{hint}") from None
    redis_url = None
    if args.redis_url:
        redis_url = _with_password(
            args.redis_url,
            password=env.get(REDIS_PASSWORD_ENV),
            flag="--redis-url",
            env=REDIS_PASSWORD_ENV,
        )
    try:
        return EnrichmentSettings(
            mysql=mysql,
            mysql_component=args.mysql_component,
            redis_url=SecretStr(redis_url) if redis_url else None,
            redis_component=args.redis_component or "redis",
            timeout_seconds=args.enrich_timeout,
        )
    except ValidationError as error:
        flags = {"redis_url": "--redis-url", "timeout_seconds": "--enrich-timeout"}
        problems = "; ".join(
            f"{flags.get(str(item['loc'][0]), str(item['loc'][0])) if item['loc'] else 'flags'}: "
            f"{item['msg']}"
            for item in error.errors(include_input=False)
        )
        raise EnrichmentError(problems) from None


def symptom_text(bundle: Bundle) -> str | None:
    """What the user saw, as one line: ``component route`` (either may be missing)."""
    symptom = bundle.spec.symptom
    if symptom is None:
        return None
    text = " ".join(part for part in (symptom.component, symptom.route) if part)
    return text or None


def diagnose_bundle(
    path: str | Path,
    *,
    progress: Any = None,
    enrich: Callable[[DiagnosisResult], DiagnosisResult] | None = None,
    policy: PolicyDocument | None = None,
) -> DiagnosisResult:
    """Load a bundle and diagnose it in-process (raises ``BundleError`` for bad bundles).

    ``enrich`` (e.g. ``entrypoints.bootstrap.make_enricher``) asks servers directly afterwards.
    ``policy``: its topology, thresholds and signals instead of the bundle's topology
    and the defaults (``service.policy_engine.engine_inputs``, as the operator does;
    raises ``TopologyError`` / ``PolicyInputError`` when it cannot be used).
    """
    from diagnosis_operator.entrypoints.bootstrap.offline import open_bundle

    say = progress or (lambda _text: None)
    say(f"loading {path}")

    def loaded(report: LoadProgress) -> None:
        if report.done:
            say(f"  read {report.file} ({report.lines_read} lines)")

    # The engine is imported while a forked child may still parse metrics.om.
    bundle, source = open_bundle(path, progress=loaded, meanwhile=_import_engine)
    from diagnosis_operator.service.diagnose import run_diagnosis

    topology, settings, signals = _engine_inputs(bundle, policy)
    return run_diagnosis(
        topology=topology,
        window=bundle.window,
        symptom=symptom_text(bundle),
        series=source,
        logs=source,
        now=bundle.window.end,
        on_stage=lambda stage: say("analysing" if stage == "correlating" else stage),
        enrich=enrich,
        settings=settings,
        policy_signals=signals,
        promql=source,
        symptom_component=bundle.spec.symptom.component if bundle.spec.symptom else None,
    )


def _import_engine() -> None:
    importlib.import_module("diagnosis_operator.service.diagnose")


def _engine_inputs(
    bundle: Bundle, policy: PolicyDocument | None
) -> tuple[Topology, EngineSettings, tuple[PolicySignal, ...]]:
    """The policy's topology, settings and signals; without one, the bundle's and the defaults."""
    if policy is None:
        return bundle.topology, EngineSettings(), ()
    # Imported only with a policy: the CRD models and the guards are start-up
    # time a bundle-only diagnosis never uses.
    from diagnosis_operator.service.policy_engine import engine_inputs

    inputs = engine_inputs(policy.spec)
    return inputs.topology, inputs.settings, inputs.signals


def guard_preview(result: DiagnosisResult, policy: PolicyDocument) -> tuple[ActionPreview, ...]:
    """What ``policy``'s guards would decide about ``result``'s proposals, at the window's end."""
    from diagnosis_operator.service.policy_engine import preview

    return preview(
        result=result,
        spec=policy.spec,
        policy_name=policy.name,
        namespace=policy.namespace or DEFAULT_NAMESPACE,
        now=result.window.end,
    )


def render(
    result: DiagnosisResult,
    fmt: str,
    *,
    policy: PolicyDocument | None = None,
    previews: tuple[ActionPreview, ...] = (),
) -> str:
    """The result as ``fmt``; with a policy, JSON gains ``policy`` and Markdown a guards section."""
    if fmt == "json":
        payload = result.to_json()
        if policy is not None:
            payload["policy"] = {
                "name": policy.name,
                "file": str(policy.path),
                "actions": [preview.to_json() for preview in previews],
            }
        return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    from diagnosis_operator import report

    if fmt == "html":
        return report.render_html(result)
    text = report.render_markdown(result)
    if policy is not None:
        text += report.render_guards_markdown(previews, policy=policy.name)
    return text


def _enricher(
    settings: EnrichmentSettings, say: Callable[[str], None]
) -> Callable[[DiagnosisResult], DiagnosisResult] | None:
    """The enrichment step the flags configure, or None."""
    if not settings.configured:
        return None
    from diagnosis_operator.entrypoints.bootstrap.connections import make_enricher
    from diagnosis_operator.entrypoints.bootstrap.enrichment import describe

    say(f"enrichment: asking {describe(settings)} (at most {settings.timeout_seconds:g} s)")
    return make_enricher(settings=settings)


def _enrichment(
    args: argparse.Namespace, say: Callable[[str], None]
) -> Callable[[DiagnosisResult], DiagnosisResult] | None:
    """The enrichment step of the flags; without a server to ask, None (nothing imported)."""
    if not (args.mysql_url or args.redis_url):
        return None
    return _enricher(enrichment_settings(args), say)


def run(args: argparse.Namespace) -> int:
    from diagnosis_operator.adapters.bundle import BundleError

    started = time.monotonic()

    def say(text: str) -> None:
        if not args.quiet:
            print(f"diagnose: {text}", file=sys.stderr, flush=True)

    try:
        enrich = _enrichment(args, say)
    except EnrichmentError as error:
        return fail(str(error))
    policy = None
    if args.policy:
        from diagnosis_operator.entrypoints.cli.policy_files import PolicyFileError, load_policy

        try:
            policy = load_policy(Path(args.policy))
        except PolicyFileError as error:
            return fail(f"bad policy: {error}")
    try:
        result = diagnose_bundle(args.bundle, progress=say, enrich=enrich, policy=policy)
    except BundleError as error:
        return fail(f"bad incident bundle: {error}")
    except OSError as error:
        return fail(f"cannot read bundle {args.bundle}: {error}")
    except ValueError as error:  # TopologyError, PolicyInputError: the policy cannot be used
        return fail(f"bad policy: {args.policy}: {error}")
    previews = guard_preview(result, policy) if policy is not None else ()
    if policy is not None and args.format == "html":
        say("the guards' decisions are shown in the json and markdown formats only")
    text = render(result, args.format, policy=policy, previews=previews)
    if args.out:
        try:
            Path(args.out).write_text(text, encoding="utf-8")
        except OSError as error:
            return fail(f"cannot write {args.out}: {error}")
        say(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    say(
        f"done in {time.monotonic() - started:.2f} s: root cause {result.root_cause.component} "
        f"(confidence {result.root_cause.confidence:.2f})"
    )
    return exit_status(result)


def exit_status(result: DiagnosisResult) -> int:
    """0 complete, ``EXIT_DEGRADED`` or ``EXIT_NO_CONCLUSION`` (said on stderr, even quiet)."""
    from diagnosis_operator.models.coverage import Outcome

    coverage = result.coverage
    if coverage.outcome is Outcome.COMPLETE:
        return 0
    text = f"{coverage.outcome.value.upper()} ({coverage.reason}): {coverage.message}"
    print(f"diagnose: {text}", file=sys.stderr, flush=True)
    return EXIT_DEGRADED if coverage.outcome is Outcome.DEGRADED else EXIT_NO_CONCLUSION
