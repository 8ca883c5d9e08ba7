"""DiagnosisPolicy objects read from YAML files, with errors naming the file and field.

A file holds one or more YAML documents; each must be a ``DiagnosisPolicy``
(``apiVersion: diagnosis.dev/v1alpha1``) with ``metadata.name``.  Empty documents are
skipped.  ``PolicyFileError`` says ``FILE: document N (NAME): FIELD: problem``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.api import POLICY_KIND, DiagnosisPolicySpec
from diagnosis_operator.models.topology import TopologyError

_MAX_PROBLEMS = 5


class PolicyFileError(ValueError):
    """A policy file that cannot be used: the file, the document and the field."""


@dataclass(frozen=True)
class PolicyDocument:
    """One policy of a file: where it came from, its name, namespace and spec."""

    path: Path
    index: int
    name: str
    namespace: str | None
    spec: DiagnosisPolicySpec

    @property
    def where(self) -> str:
        return f"{self.path}: document {self.index} ({self.name})"


def load_policies(path: Path) -> list[PolicyDocument]:
    """Every DiagnosisPolicy in ``path``; ``PolicyFileError`` on the first bad one."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyFileError(f"{path}: cannot read: {error}") from error
    found = [
        _policy(path, index, document) for index, document in _documents(path, text) if document
    ]
    if not found:
        raise PolicyFileError(f"{path}: no DiagnosisPolicy in the file")
    return found


def load_policy(path: Path) -> PolicyDocument:
    """The one DiagnosisPolicy of ``path`` (``diagnose --policy``, ``policy test``)."""
    found = load_policies(path)
    if len(found) > 1:
        names = ", ".join(document.name for document in found)
        raise PolicyFileError(f"{path}: {len(found)} policies ({names}): give a file with one")
    return found[0]


def _documents(path: Path, text: str) -> Iterator[tuple[int, Any]]:
    try:
        yield from enumerate(yaml.safe_load_all(text), start=1)
    except yaml.YAMLError as error:
        raise PolicyFileError(f"{path}: not valid YAML: {error}") from error


def _policy(path: Path, index: int, document: Any) -> PolicyDocument:
    where = f"{path}: document {index}"
    if not isinstance(document, dict):
        raise PolicyFileError(f"{where}: expected a mapping, got {type(document).__name__}")
    kind, api_version = document.get("kind"), document.get("apiVersion")
    if kind != POLICY_KIND or api_version != f"{API_GROUP}/{API_VERSION}":
        raise PolicyFileError(
            f"{where}: apiVersion/kind: expected {API_GROUP}/{API_VERSION} {POLICY_KIND}, "
            f"got {api_version!r} {kind!r}"
        )
    metadata = document.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(name, str) or not name:
        raise PolicyFileError(f"{where}: metadata.name: required")
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    if namespace is not None and not isinstance(namespace, str):
        raise PolicyFileError(f"{where} ({name}): metadata.namespace: must be a string")
    try:
        spec = DiagnosisPolicySpec.model_validate(document.get("spec"))
    except ValidationError as error:
        raise PolicyFileError(f"{where} ({name}): {_problems(error)}") from error
    except TopologyError as error:
        raise PolicyFileError(f"{where} ({name}): spec.components: {error}") from error
    return PolicyDocument(path=path, index=index, name=name, namespace=namespace, spec=spec)


def _problems(error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False)[:_MAX_PROBLEMS]:
        location = ".".join(str(part) for part in item["loc"])
        problems.append(f"spec.{location}: {item['msg']}" if location else f"spec: {item['msg']}")
    return "; ".join(problems)
