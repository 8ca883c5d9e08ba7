"""Escaping shared by the PromQL and LogQL builders and the queries the core shows.  Pure.

Label values, line filters and regexps from input (CR fields, policies, alert
labels, log lines) are never pasted into a query: every one goes through
``quote`` (a double-quoted string literal in the Go syntax both PromQL and LogQL
parse) and every label name through ``label_name``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# What json.dumps(..., ensure_ascii=False) escapes in a string: quotes, backslashes, controls.
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')
_SURROGATE = re.compile("[\ud800-\udfff]")


class QueryBuildError(ValueError):
    """Input that cannot be turned into a safe query (e.g. a bad label name)."""


def quote(value: str) -> str:
    """A double-quoted string literal: quotes, backslashes and control characters escaped."""
    if not isinstance(value, str):
        raise QueryBuildError(f"expected a string value, got {type(value).__name__}")
    if _SURROGATE.search(value) is not None:
        # A lone surrogate (JSON can carry one as an escape) has no UTF-8 form: the
        # query could not be sent, or would reach the server altered.
        raise QueryBuildError(f"value {value!r} is not valid UTF-8 text (a lone surrogate)")
    if _NEEDS_ESCAPE.search(value) is None:
        return f'"{value}"'  # what json.dumps gives for it, without its cost
    # JSON string escaping is a subset of Go's strconv.Unquote syntax, which is
    # what PromQL and LogQL use for double-quoted strings.
    return json.dumps(value, ensure_ascii=False)


def label_name(name: str) -> str:
    if not isinstance(name, str) or not _LABEL_NAME.fullmatch(name):
        raise QueryBuildError(f"invalid label name {name!r}: must match [a-zA-Z_][a-zA-Z0-9_]*")
    return name


def matchers(selector: Mapping[str, str], extra: Sequence[tuple[str, str, str]] = ()) -> str:
    """``{a="b",c=~"d"}``: equality matchers from ``selector`` plus ``(name, op, value)``."""
    parts = [f"{label_name(name)}={quote(value)}" for name, value in sorted(selector.items())]
    for name, op, value in extra:
        if op not in ("=", "!=", "=~", "!~"):
            raise QueryBuildError(f"invalid matcher operator {op!r}")
        parts.append(f"{label_name(name)}{op}{quote(value)}")
    return "{" + ",".join(parts) + "}"


def grouping(by: Sequence[str]) -> str:
    return ", ".join(label_name(name) for name in by)


def duration(seconds: float) -> str:
    """A PromQL/LogQL duration; whole milliseconds at least."""
    millis = round(seconds * 1000)
    if millis <= 0:
        raise QueryBuildError(f"duration must be positive, got {seconds!r} s")
    if millis % 1000 == 0:
        whole = millis // 1000
        if whole % 3600 == 0:
            return f"{whole // 3600}h"
        if whole % 60 == 0:
            return f"{whole // 60}m"
        return f"{whole}s"
    return f"{millis}ms"
