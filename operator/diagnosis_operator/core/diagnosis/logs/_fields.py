"""Helpers shared by the line parsers: units, JSON lines, field lookup.  Pure."""

from __future__ import annotations

import json
import re
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


# logfmt (Go's slog and logrus text, Heroku's router): ``key=value`` or ``key="quoted value"``.
_LOGFMT_PAIR = re.compile(r'(?:^|\s)([A-Za-z_][\w.\-]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)')
LOGFMT_MIN_PAIRS = 3
LOGFMT_MIN_COVER = 0.6  # share of the line's characters its pairs cover


def logfmt_object(line: str) -> dict[str, str] | None:
    """Pure: a logfmt line's fields, or None when the line is not logfmt.

    A line is logfmt when at least ``LOGFMT_MIN_PAIRS`` pairs cover most of it;
    an access line in combined format that ends in a few ``rt=0.021`` fields
    is not.
    """
    pairs = list(_LOGFMT_PAIR.finditer(line))
    if len(pairs) < LOGFMT_MIN_PAIRS:
        return None
    covered = sum(m.end() - m.start() for m in pairs)
    if covered < LOGFMT_MIN_COVER * len(line.strip()):
        return None
    return {m.group(1): _unquote(m.group(2)) for m in pairs}


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


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
