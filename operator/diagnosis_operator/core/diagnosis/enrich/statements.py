"""Slow statements out of the evidence, and the SELECT that may be explained.  Pure."""

from __future__ import annotations

import json
import re

from diagnosis_operator.core.diagnosis.enrich.model import (
    SlowStatement,
)
from diagnosis_operator.core.diagnosis.logs import LogCategory, categorize
from diagnosis_operator.models.findings import (
    DiagnosisResult,
    Evidence,
)
from diagnosis_operator.models.sqltext import (
    NotASelect,
    fingerprint,
    strip_comments,
    validated_select,
)

_JSON_STATEMENT_KEYS = ("query", "statement", "sql", "stmt", "sql_text", "query_text")
_STATEMENT_START = re.compile(r"\b(SELECT|WITH|INSERT|UPDATE|DELETE|REPLACE|CALL)\b", re.I)
_LOG_PREAMBLE = re.compile(r"^\s*(#|SET\s+timestamp\s*=|use\s+[`\w$]+\s*;\s*$)", re.I)
_SUMMARY_STATEMENT = re.compile(r"^slow query `(.+)`(?=[,;]|$)", re.S)


def statement_in_entry(line: str) -> str | None:
    """The SQL statement a slow-query log entry carries, whole (not cut at ``;``).  Pure.

    JSON entries give it in a field (``query``, ``statement``, ``sql``...); text
    entries (the MySQL/MariaDB slow log, or one-line application logs) give it after
    their ``#`` header lines, ``SET timestamp=`` and ``use db;``.  The text is kept
    whole so that a second statement hidden behind the first is seen and refused.
    """
    text = line.strip()
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            lowered = {str(key).lower(): value for key, value in parsed.items()}
            for key in _JSON_STATEMENT_KEYS:
                value = lowered.get(key)
                if isinstance(value, str) and value.strip():
                    return value.strip()
            return None
    body = "\n".join(part for part in text.split("\n") if not _LOG_PREAMBLE.match(part))
    match = _STATEMENT_START.search(body)
    return body[match.start() :].strip() if match else None


def statement_of(evidence: Evidence) -> str | None:
    """The slow statement an evidence item quotes, if it is about a slow query.  Pure."""
    if evidence.line and categorize(evidence.line) is LogCategory.SLOW_QUERY:
        found = statement_in_entry(evidence.line)
        if found:
            return found
    match = _SUMMARY_STATEMENT.match(evidence.summary)
    return match.group(1).strip() if match else None


def slow_statements(
    *, result: DiagnosisResult, component: str | None = None, limit: int = 5
) -> tuple[SlowStatement, ...]:
    """Pure: distinct slow statements (by fingerprint) in the evidence, at most ``limit``.

    Each says whether it may be explained: only a single plain SELECT may
    (``models.sqltext.validated_select``); anything else is kept with the reason
    it was refused, so the refusal can be reported.
    """
    found: list[SlowStatement] = []
    seen: set[str] = set()
    for item in result.evidence:
        if component is not None and item.component != component:
            continue
        statement = statement_of(item)
        if statement is None:
            continue
        shape = fingerprint(statement)
        if shape in seen:
            continue
        seen.add(shape)
        explain, refused, rewritten = _explainable_form(statement)
        found.append(
            SlowStatement(
                component=item.component,
                statement=statement,
                because=item.summary,
                refused=refused,
                explain=explain,
                rewritten=rewritten,
            )
        )
        if len(found) >= limit:
            break
    return tuple(found)


def _explainable_form(statement: str) -> tuple[str, str | None, bool]:
    """The SELECT to explain for a statement, why not, and whether it was rewritten."""
    try:
        return validated_select(statement), None, False
    except NotASelect as error:
        refused = str(error)
    rows_select = select_of_rows(statement)
    if rows_select is None:
        return "", refused, False
    try:
        return validated_select(rows_select), None, True
    except NotASelect as error:
        return "", str(error), False


_QUOTED_NAME = r"(?:`[^`]+`|[A-Za-z_$][\w$]*)"
_DML_HEAD = re.compile(
    rf"^\s*(UPDATE|DELETE)\s+(?:(?:LOW_PRIORITY|QUICK|IGNORE)\s+)*(?:FROM\s+)?"
    rf"({_QUOTED_NAME}(?:\.{_QUOTED_NAME})?)"
    r"(?:\s+(?:AS\s+)?(?!(?:SET|WHERE|USING|JOIN|PARTITION|FROM)\b)([A-Za-z_$][\w$]*))?\s+",
    re.I,
)
_MASK_LITERAL = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\"|`[^`]*`", re.S)


def select_of_rows(statement: str) -> str | None:
    """Pure: ``SELECT * FROM t WHERE ...`` for a single-table ``UPDATE``/``DELETE``, else None.

    The SELECT reads the rows the statement changes, so its EXPLAIN shows how the
    statement finds them.  Only text of the statement is reused (table, alias,
    WHERE and what follows it); the result must still pass ``validated_select``,
    so a second statement behind the first is refused as before.
    """
    text = strip_comments(statement).strip()
    head = _DML_HEAD.match(text)
    if head is None:
        return None
    verb, table, alias = head.group(1).upper(), head.group(2), head.group(3)
    masked = _MASK_LITERAL.sub(lambda m: "x" * len(m.group(0)), text)
    rest = masked[head.end() :]
    if verb == "UPDATE" and not re.match(r"SET\b", rest, re.I):
        return None  # several tables, or a form this reading does not know
    if verb == "DELETE" and not re.match(r"WHERE\b", rest, re.I):
        return None
    depth = 0
    for index, char in enumerate(rest):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif (
            depth == 0
            and re.match(r"WHERE\b", rest[index:], re.I)
            and (index == 0 or not (rest[index - 1].isalnum() or rest[index - 1] in "_$"))
        ):
            where = text[head.end() + index :]
            named = f" AS {alias}" if alias else ""
            # Text of the statement under analysis, rearranged; never run, only explained
            # after validated_select (one plain SELECT) accepts it.
            return f"SELECT * FROM {table}{named} {where}"  # noqa: S608
    return None
