"""SQL statement text: comments, fingerprints, and the single-SELECT check.  Pure.

Shared by the kill selection (``core.killer``: fingerprints, DDL detection) and the
MySQL adapter (``explain`` accepts only what ``validated_select`` passes).  These
functions read statement text as data; nothing here builds SQL.
"""

from __future__ import annotations

import hashlib
import re


def strip_comments(statement: str) -> str:
    """A statement without ``/* */``, ``--`` and ``#`` comments (quotes respected).  Pure."""
    out: list[str] = []
    index = 0
    length = len(statement)
    while index < length:
        char = statement[index]
        if char in ("'", '"', "`"):
            end = _end_of_quoted(statement, index)
            out.append(statement[index:end])
            index = end
            continue
        if statement.startswith("/*", index):
            close = statement.find("*/", index + 2)
            index = length if close < 0 else close + 2
            out.append(" ")
            continue
        if char == "#" or (
            statement.startswith("--", index)
            and (index + 2 >= length or statement[index + 2] in " \t\r\n")
        ):
            newline = statement.find("\n", index)
            index = length if newline < 0 else newline
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _end_of_quoted(text: str, start: int) -> int:
    """Index just past the quoted string opened at ``start`` (``len(text)`` if unterminated)."""
    end = _closing_quote(text, start)
    return len(text) if end is None else end


def _closing_quote(text: str, start: int) -> int | None:
    quote = text[start]
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "\\" and quote != "`":
            index += 2
            continue
        if char == quote:
            if index + 1 < len(text) and text[index + 1] == quote:
                index += 2
                continue
            return index + 1
        index += 1
    return None


_STRING = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\"", re.DOTALL)
_NUMBER = re.compile(r"(?<![\w`])[-+]?(0x[0-9a-f]+|\d+(\.\d+)?(e[-+]?\d+)?)\b", re.IGNORECASE)
_IN_LIST = re.compile(r"\b(in|values)\s*\(\s*\?(\s*,\s*\?)*\s*\)", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


def fingerprint(statement: str) -> str:
    """The statement's shape: lower case, literals as ``?``, lists folded.  Pure.

    ``SELECT * FROM t WHERE id IN (1, 2, 3)`` and ``select * from t where id in (7)``
    both become ``select * from t where id in(?+)``.
    """
    text = strip_comments(statement)
    text = _STRING.sub("?", text)
    text = _NUMBER.sub("?", text)
    text = _SPACE.sub(" ", text).strip().lower().rstrip(";").strip()
    return _IN_LIST.sub(lambda m: f"{m.group(1).lower()}(?+)", text)


def digest(statement: str) -> str:
    """A short hash of ``fingerprint(statement)``.  Pure."""
    return hashlib.sha256(fingerprint(statement).encode()).hexdigest()[:16]


class NotASelect(ValueError):
    """A statement that may not be explained (not a single SELECT)."""


_SURROGATE = re.compile("[\ud800-\udfff]")
_SELECT_START = re.compile(r"^\s*\(?\s*select\b", re.IGNORECASE)
_FORBIDDEN_IN_SELECT = re.compile(
    r"\binto\s+(outfile|dumpfile|@)|\bfor\s+update\b|\block\s+in\s+share", re.I
)


def without_strings(statement: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(statement):
        char = statement[index]
        if char in ("'", '"', "`"):
            end = _end_of_quoted(statement, index)
            out.append("x" if char == "`" else "?")
            index = end
            continue
        out.append(char)
        index += 1
    return "".join(out)


def validated_select(statement: str) -> str:
    """The statement, comments removed, if it is exactly one plain SELECT.  Pure.

    Raises ``NotASelect`` saying why otherwise: another statement type, several
    statements, an unterminated quote, or a SELECT that writes or locks.
    """
    if not isinstance(statement, str) or not statement.strip():
        raise NotASelect("empty statement")
    if len(statement) > 100_000:
        raise NotASelect("statement longer than 100000 characters")
    if _SURROGATE.search(statement) is not None:
        # Text decoded from JSON escapes can hold one; it has no UTF-8 form to send.
        raise NotASelect("statement is not valid UTF-8 text (a lone surrogate)")
    stripped = strip_comments(statement).strip()
    if not _quotes_balanced(stripped):
        raise NotASelect("unterminated quoted string")
    shape = without_strings(stripped)
    body = shape.rstrip().rstrip(";")
    if ";" in body:
        raise NotASelect("more than one statement")
    if not _SELECT_START.match(body):
        first = body.split(None, 1)[0] if body.split() else ""
        raise NotASelect(f"only SELECT statements are explained, not {first.upper()!r}")
    if _FORBIDDEN_IN_SELECT.search(body):
        raise NotASelect("SELECT ... INTO / FOR UPDATE / LOCK IN SHARE MODE is not explained")
    return stripped.rstrip().rstrip(";").rstrip()


def _quotes_balanced(text: str) -> bool:
    index = 0
    while index < len(text):
        if text[index] in ("'", '"', "`"):
            end = _closing_quote(text, index)
            if end is None:
                return False
            index = end
            continue
        index += 1
    return True
