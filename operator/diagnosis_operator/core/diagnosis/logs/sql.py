"""Slow-query entries: statement, Query_time, rows, WHERE columns, tables.  Pure."""

from __future__ import annotations

import re

from diagnosis_operator.core.diagnosis.logs._fields import to_seconds
from diagnosis_operator.core.diagnosis.logs.model import SlowQuery

SQL_STATEMENT = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|REPLACE)\b[^;\n\"]*", re.IGNORECASE)
_QUERY_TIME = re.compile(
    r"(?:query_time|querytime|duration|elapsed|took|exec(?:ution)?_?time)[\"']?\s*[:=]?\s*\"?"
    r"(\d+(?:\.\d+)?)\s*(ms|milliseconds|us|µs|s|sec|seconds)?\b",
    re.IGNORECASE,
)
_LOCK_TIME = re.compile(
    r"lock_?time[\"']?\s*[:=]\s*\"?(\d+(?:\.\d+)?)\s*(ms|milliseconds|us|µs|s|sec|seconds)?\b",
    re.IGNORECASE,
)
_ROWS_EXAMINED = re.compile(r"rows_examined[\"']?\s*[:=]\s*\"?(\d+)", re.IGNORECASE)
_ROWS_SENT = re.compile(r"rows_sent[\"']?\s*[:=]\s*\"?(\d+)", re.IGNORECASE)
_TABLE = re.compile(r"\b(?:FROM|UPDATE|INTO|JOIN)\s+`?(?:\w+`?\.`?)?(\w+)`?", re.IGNORECASE)
_INNODB_TABLE = re.compile(r"\btable\s+`?(?:\w+)`?\.`?(\w+)`?", re.IGNORECASE)
_WHERE = re.compile(
    r"\bWHERE\b(.*?)(?:\bORDER\s+BY\b|\bGROUP\s+BY\b|\bLIMIT\b|\bFOR\s+UPDATE\b|;|$)", re.IGNORECASE
)
_WHERE_COLUMN = re.compile(
    r"`?(?:\w+`?\.`?)?([A-Za-z_]\w*)`?\s*(?:=|<=|>=|<>|!=|<|>|\bIN\b|\bLIKE\b|\bBETWEEN\b|\bIS\b)",
    re.IGNORECASE,
)
_SQL_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "not",
        "null",
        "select",
        "where",
        "in",
        "like",
        "between",
        "is",
        "insert",
        "update",
        "delete",
        "replace",
        "set",
        "values",
        "into",
        "from",
        "join",
        "table",
        "dual",
    }
)


def parse_slow_query(text: str) -> SlowQuery | None:
    """Pure: statement, Query_time, rows and WHERE columns of a slow-query entry."""
    statements = [m.group(0).strip() for m in SQL_STATEMENT.finditer(text)]
    if not statements:
        return None
    statement = max(statements, key=len)
    query_time = None
    match = _QUERY_TIME.search(text)
    if match:
        query_time = to_seconds(float(match.group(1)), match.group(2))
    lock = _LOCK_TIME.search(text)
    examined = _ROWS_EXAMINED.search(text)
    sent = _ROWS_SENT.search(text)
    table_match = _TABLE.search(statement)
    return SlowQuery(
        statement=statement,
        query_time=query_time,
        rows_examined=int(examined.group(1)) if examined else None,
        rows_sent=int(sent.group(1)) if sent else None,
        table=table_match.group(1) if table_match else None,
        where_columns=where_columns(statement),
        lock_time=to_seconds(float(lock.group(1)), lock.group(2)) if lock else None,
    )


def where_columns(statement: str) -> tuple[str, ...]:
    """Pure: the columns a statement's WHERE clause filters on, in order, unique."""
    match = _WHERE.search(statement)
    if not match:
        return ()
    seen: list[str] = []
    for column in _WHERE_COLUMN.findall(match.group(1)):
        if column.lower() not in _SQL_KEYWORDS and column not in seen:
            seen.append(column)
    return tuple(seen)


def tables_of(text: str) -> tuple[str, ...]:
    """Pure: tables named by SQL statements or InnoDB lock reports in a text."""
    found: list[str] = []
    for table in [*_TABLE.findall(text), *_INNODB_TABLE.findall(text)]:
        if table not in found and table.lower() not in _SQL_KEYWORDS:
            found.append(table)
    return tuple(found)


def statement_fingerprint(statement: str) -> str:
    """Pure: a statement with literals replaced by ``?`` and spaces collapsed."""
    text = re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", "?", statement)
    text = re.sub(r"\b\d+(?:\.\d+)?\b", "?", text)
    return re.sub(r"\s+", " ", text).strip().rstrip(";")


def statement_prefix(statement: str) -> str:
    """Pure: the literal-free head of a statement (what a process-list match can use)."""
    text = re.sub(r"\s+", " ", statement).strip()
    cut = len(text)
    for match in re.finditer(r"['\"]|\b\d", text):
        cut = match.start()
        break
    return text[:cut].rstrip(" =<>!(")
