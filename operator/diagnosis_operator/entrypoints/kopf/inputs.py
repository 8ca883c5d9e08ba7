"""What kopf hands a handler, made plain: its views as JSON data, their errors as one line."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError


def plain(view: Any) -> dict[str, Any]:
    """A kopf body view as plain JSON data."""
    data: dict[str, Any] = json.loads(json.dumps(dict(view or {}), default=str))
    return data


def validation_message(where: str, error: ValidationError) -> str:
    """The first few problems of ``error``, each located under ``where`` (e.g. ``spec``)."""
    problems = []
    for item in error.errors()[:5]:
        location = ".".join(str(part) for part in item["loc"])
        problems.append(
            f"{where}.{location}: {item['msg']}" if location else f"{where}: {item['msg']}"
        )
    return "; ".join(problems)
