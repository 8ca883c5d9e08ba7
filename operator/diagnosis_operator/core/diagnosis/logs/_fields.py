"""Helpers shared by the line parsers: units, JSON lines, field lookup.  Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

IP = r"(?:\d{1,3}\.){3}\d{1,3}"


def to_seconds(amount: float, unit: str | None, *, default_unit: str = "s") -> float:
    unit = (unit or default_unit).lower()
    if unit in ("us", "µs", "microseconds"):
        return amount / 1e6
    if unit in ("ms", "milliseconds"):
        return amount / 1e3
    return amount


def json_object(line: str) -> dict[str, Any] | None:
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def flat_text(obj: Mapping[str, Any]) -> str:
    return " ".join(f"{key}={value}" for key, value in obj.items())


def split_request(request: str) -> tuple[str | None, str | None]:
    parts = request.split()
    if len(parts) >= 2:
        return parts[0], parts[1]
    return None, request or None


def first_field(obj: Mapping[str, Any], keys: Sequence[str]) -> Any:
    lowered = {str(key).lower(): value for key, value in obj.items()}
    for key in keys:
        if key in lowered and lowered[key] not in (None, ""):
            return lowered[key]
    return None
