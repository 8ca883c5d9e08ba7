"""The offline sources: an incident bundle answering the same ports as Prometheus and Loki,
and a DiagnosisPolicy read from a file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from diagnosis_operator.adapters.bundle import BundleSource, load_bundle
from diagnosis_operator.api import POLICY_KIND, DiagnosisPolicySpec
from diagnosis_operator.models.bundle import Bundle, LoadProgress


def open_bundle(
    path: str | Path, *, progress: Callable[[LoadProgress], None] | None = None
) -> tuple[Bundle, BundleSource]:
    """Load (and so validate) a bundle; its source serves ``SeriesSource`` and ``LogSource``.

    Raises ``adapters.bundle.BundleError`` naming the file and line of a problem.
    """
    bundle = load_bundle(path, progress=progress)
    return bundle, BundleSource(bundle)


class PolicyFileError(ValueError):
    """A policy file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class PolicyFile:
    """A DiagnosisPolicy read from a file (a manifest as it is kept in git)."""

    path: str
    name: str
    namespace: str
    spec: DiagnosisPolicySpec


def load_policy(path: str | Path, *, default_namespace: str = "default") -> PolicyFile:
    """Read and validate a DiagnosisPolicy manifest (the first document of its kind).

    Raises ``PolicyFileError`` naming the file and the field of a problem.
    """
    where = str(path)
    try:
        documents = [d for d in yaml.safe_load_all(Path(path).read_text(encoding="utf-8")) if d]
    except OSError as error:
        raise PolicyFileError(f"{where}: cannot read: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise PolicyFileError(f"{where}: not YAML: {error}") from None
    found = [d for d in documents if isinstance(d, dict) and d.get("kind") == POLICY_KIND]
    if not found:
        raise PolicyFileError(f"{where}: no document of kind {POLICY_KIND}")
    document = found[0]
    metadata = document.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    name = str(metadata.get("name") or Path(path).stem)
    namespace = str(metadata.get("namespace") or default_namespace)
    try:
        spec = DiagnosisPolicySpec.model_validate(document.get("spec") or {})
    except ValidationError as error:
        problems = "; ".join(
            "spec." + ".".join(str(part) for part in item["loc"]) + f": {item['msg']}"
            if item["loc"]
            else f"spec: {item['msg']}"
            for item in error.errors(include_input=False)[:5]
        )
        raise PolicyFileError(f"{where}: {problems}") from None
    return PolicyFile(path=where, name=name, namespace=namespace, spec=spec)
