"""Typed views of what the Kubernetes client hands the tests (mypy --strict over tests).

The client ships annotations: ``CustomObjectsApi`` returns ``object`` (the JSON it
read), model fields such as ``metadata`` are Optional, and ``create_*`` name only the
model classes although they send plain dicts as they are.  These helpers check what a
test relies on and fail with a clear message instead of a later ``TypeError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from kubernetes import client


def as_json(value: object) -> dict[str, Any]:
    """A JSON object the client returned (a custom object, a list of them, a status)."""
    if not isinstance(value, dict):
        raise AssertionError(f"expected a JSON object from the API, got {type(value).__name__}")
    return value


def as_json_list(value: object) -> list[dict[str, Any]]:
    """A JSON array of objects (``items`` of a list, conditions, proposals)."""
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise AssertionError(f"expected a JSON array of objects, got {value!r}")
    return value


def request_body(manifest: Mapping[str, Any]) -> Any:
    """A plain manifest as the body of a typed ``create_*``/``replace_*`` call.

    ``ApiClient.sanitize_for_serialization`` sends a dict unchanged, but the methods'
    annotations name only the model classes (``V1Pod``, ``V1ConfigMap``, ...), so the
    manifest is passed on as ``Any``; nothing is converted.
    """
    return manifest


class _HasMetadata(Protocol):
    @property
    def metadata(self) -> client.V1ObjectMeta | None: ...


def metadata_of(obj: _HasMetadata) -> client.V1ObjectMeta:
    """The metadata of an object read from the API server (which always sets it)."""
    if obj.metadata is None:
        raise AssertionError(f"{type(obj).__name__} read from the API has no metadata")
    return obj.metadata


def labels_of(obj: _HasMetadata) -> dict[str, str]:
    """The labels of an object the test expects to carry labels."""
    labels = metadata_of(obj).labels
    if labels is None:
        raise AssertionError(f"{type(obj).__name__} has no labels")
    return labels


def annotations_of(obj: _HasMetadata) -> dict[str, str]:
    """The annotations of an object the test expects to carry annotations."""
    annotations = metadata_of(obj).annotations
    if annotations is None:
        raise AssertionError(f"{type(obj).__name__} has no annotations")
    return annotations


def minted_token(request: client.AuthenticationV1TokenRequest) -> str:
    """The token the API server minted for a TokenRequest."""
    if request.status is None or not request.status.token:
        raise AssertionError("the API server minted no token")
    return request.status.token
