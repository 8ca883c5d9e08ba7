"""Tables and filter columns of a statement, and the columns an index should cover.  Pure."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from diagnosis_operator.models.sqltext import (
    strip_comments,
)


@dataclass(frozen=True, slots=True)
class TableRef:
    name: str  # as written, possibly schema-qualified
    alias: str

    @property
    def bare(self) -> str:
        return self.name.rsplit(".", 1)[-1]


@dataclass(frozen=True, slots=True)
class FilterColumn:
    qualifier: str | None
    column: str
    equality: bool
    indexable: bool = True  # False for LIKE '%...' (a leading wildcard uses no index)


_SQL_STRING = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\"", re.S)
_IDENT = r"[A-Za-z_$][\w$]*"
_TABLE_NAME = rf"{_IDENT}(?:\.{_IDENT})?"
_NOT_ALIAS = frozenset(
    {
        "on", "using", "where", "join", "inner", "left", "right", "outer", "cross", "natural",
        "straight_join", "group", "order", "limit", "having", "union", "for", "lock", "window",
        "use", "ignore", "force", "partition", "into", "procedure", "as", "set", "values",
    }
)  # fmt: skip
_ALIAS = rf"(?:\s+(?:AS\s+)?(?!(?:{'|'.join(sorted(_NOT_ALIAS))})\b)({_IDENT}))?"
_FROM_TABLE = re.compile(rf"\b(?:FROM|JOIN|STRAIGHT_JOIN)\s+({_TABLE_NAME}){_ALIAS}", re.I)
_NEXT_TABLE = re.compile(rf"\s*,\s*({_TABLE_NAME}){_ALIAS}", re.I)
_COLUMN = rf"(?:({_IDENT})\.)?({_IDENT})"
_LEFT_PREDICATE = re.compile(
    rf"(?<![\w$]){_COLUMN}\s*(<=>|<>|!=|<=|>=|=|<|>|\bNOT\s+IN\b|\bIN\b|\bNOT\s+LIKE\b|\bLIKE\b"
    rf"|\bBETWEEN\b|\bIS\b)\s*(\?%)?",
    re.I,
)
_RIGHT_PREDICATE = re.compile(rf"(<=>|<>|!=|<=|>=|=|<|>)\s*{_COLUMN}\b(?!\s*[.(])", re.I)
_EQUALITY_OPS = frozenset({"=", "<=>", "in", "is"})
_SQL_WORDS = frozenset(
    {
        "and", "or", "not", "null", "true", "false", "select", "where", "in", "like", "between",
        "is", "from", "on", "using", "exists", "case", "when", "then", "else", "end", "any",
        "all", "some", "interval", "binary", "distinct", "as", "xor", "div", "mod", "unknown",
    }
)  # fmt: skip


def _analysable(statement: str) -> str:
    """Comments removed, literals as ``?`` (``?%`` for a leading wildcard), no backticks."""

    def literal(match: re.Match[str]) -> str:
        return "?%" if match.group(0)[1:2] in ("%", "_") else "?"

    return _SQL_STRING.sub(literal, strip_comments(statement)).replace("`", "")


def table_references(statement: str) -> tuple[TableRef, ...]:
    """Pure: the tables a statement reads (FROM, JOIN and comma lists), with their aliases."""
    text = _analysable(statement)
    refs: list[TableRef] = []
    for match in _FROM_TABLE.finditer(text):
        _add_ref(refs, match.group(1), match.group(2))
        position = match.end()
        while True:
            more = _NEXT_TABLE.match(text, position)
            if more is None:
                break
            _add_ref(refs, more.group(1), more.group(2))
            position = more.end()
    return tuple(refs)


def _add_ref(refs: list[TableRef], name: str, alias: str | None) -> None:
    if name.lower() in _SQL_WORDS or name.lower() == "dual":
        return
    if alias is None or alias.lower() in _NOT_ALIAS or alias.lower() in _SQL_WORDS:
        alias = name.rsplit(".", 1)[-1]
    ref = TableRef(name=name, alias=alias)
    if ref not in refs:
        refs.append(ref)


def filter_columns(statement: str) -> tuple[FilterColumn, ...]:
    """Pure: the columns compared in a statement's WHERE / ON / HAVING clauses.

    Both sides of a comparison count (``a.id = b.a_id`` names both columns); a
    column wrapped in a function (``LOWER(email) = ?``) does not, since an
    index on it would not be used.
    """
    text = _analysable(statement)
    start = re.search(r"\bFROM\b", text, re.I)
    if start is None:
        return ()
    text = text[start.end() :]
    found: list[FilterColumn] = []
    for match in _LEFT_PREDICATE.finditer(text):
        qualifier, column, operator, wildcard = match.groups()
        if column.lower() in _SQL_WORDS or column[0].isdigit():
            continue
        operator = " ".join(operator.lower().split())
        found.append(
            FilterColumn(
                qualifier=qualifier,
                column=column,
                equality=operator in _EQUALITY_OPS,
                indexable=not (operator.endswith("like") and wildcard),
            )
        )
    for match in _RIGHT_PREDICATE.finditer(text):
        operator, qualifier, column = match.groups()
        if column.lower() in _SQL_WORDS:
            continue
        found.append(
            FilterColumn(qualifier=qualifier, column=column, equality=operator in _EQUALITY_OPS)
        )
    return tuple(found)


def index_columns(
    *, table: TableRef, tables: Sequence[TableRef], filters: Sequence[FilterColumn], limit: int = 3
) -> tuple[str, ...]:
    """Pure: the columns an index on ``table`` should cover: equality ones first, then ranges."""
    names = {table.alias.lower(), table.bare.lower(), table.name.lower()}

    def belongs(item: FilterColumn) -> bool:
        if item.qualifier is not None:
            return item.qualifier.lower() in names
        return len(tables) == 1

    mine = [f for f in filters if belongs(f) and f.indexable]
    ordered: list[str] = []
    for item in sorted(mine, key=lambda f: not f.equality):
        if item.column.lower() not in (c.lower() for c in ordered):
            ordered.append(item.column)
    return tuple(ordered[:limit])
