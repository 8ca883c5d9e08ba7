"""A tokenizer and recursive-descent parser for the LogQL subset the test server serves.

Grammar (a subset of Loki's, with Loki's error messages where the test server
rejects what Loki rejects):

    query        := metric | log
    log          := selector stage* | "(" log ")"
    selector     := "{" matcher ("," matcher)* "}"
    matcher      := IDENT ("=" | "!=" | "=~" | "!~") STRING
    stage        := ("|=" | "!=" | "|~" | "!~") STRING
                  | "|" ("json" | "logfmt" | "regexp" STRING | "pattern" STRING)
                  | "|" IDENT ("=" | "!=" | "=~" | "!~") STRING
                  | "|" IDENT (">" | ">=" | "<" | "<=" | "==" | "!=") NUMBER
    metric       := range_agg | vector_agg | "(" metric ")"
    range_agg    := RANGE_FN "(" log_range ")"
    log_range    := log RANGE | selector RANGE stage* | "(" log ")" RANGE
    vector_agg   := AGG [grouping] "(" [NUMBER ","] metric ")" [grouping]
    grouping     := ("by" | "without") "(" [IDENT ("," IDENT)*] ")"
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

RANGE_FUNCTIONS = ("count_over_time", "rate", "bytes_over_time", "bytes_rate")
VECTOR_AGGREGATIONS = ("sum", "count", "min", "max", "avg", "topk", "bottomk")
PARSERS = ("json", "logfmt", "regexp", "pattern")
KEYWORDS = frozenset({*RANGE_FUNCTIONS, *VECTOR_AGGREGATIONS, *PARSERS, "by", "without"})

EMPTY_MATCHER_ERROR = (
    "queries require at least one regexp or equality matcher that does not have an "
    'empty-compatible value. For instance, app=~".*" does not meet this requirement, '
    'but app=~".+" will'
)


class LogQLParseError(ValueError):
    """Loki's ``parse error ...`` message (``syntax.ParseError``)."""

    def __init__(self, msg: str, line: int = 0, col: int = 0) -> None:
        self.msg, self.line, self.col = msg, line, col
        if line == 0 and col == 0:
            text = f"parse error : {msg}"
        else:
            text = f"parse error at line {line}, col {col}: {msg}"
        super().__init__(text)


# --- Tokens -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # IDENT, STRING, NUMBER, DURATION, OP, PUNCT, EOF
    text: str  # the source text (for STRING: the unquoted value)
    pos: int
    value: object = None

    @property
    def display(self) -> str:
        # How Loki's yacc parser names a token in "syntax error: unexpected X".
        if self.kind == "EOF":
            return "$end"
        if self.kind == "IDENT":
            return self.text if self.text in KEYWORDS else "IDENTIFIER"
        if self.kind in ("STRING", "NUMBER", "DURATION"):
            return self.kind
        return self.text


_OPERATORS = ("|=", "|~", "!=", "!~", "=~", "==", ">=", "<=", "=", ">", "<", "|")
_PUNCT = "{}()[],"
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|us|µs|ns|s|m|h|d|w|y))+")
_NUMBER = re.compile(r"\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?")
_IDENT = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|s|m|h|d|w|y)")
_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
    "w": 7 * 86_400_000_000_000,
    "y": 365 * 86_400_000_000_000,
}
_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
}


def line_col(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, col


def parse_duration_ns(text: str) -> int:
    """``5m``, ``1h30m``, ``500ms`` to nanoseconds (Prometheus duration syntax)."""
    if not _DURATION.fullmatch(text):
        raise ValueError(f'not a valid duration string: "{text}"')
    total = 0
    for number, unit in _DURATION_PART.findall(text):
        total += round(float(number) * _UNIT_NS[unit])
    return total


def _unquote(source: str, start: int) -> tuple[str, int]:
    """A Go double-quoted string literal starting at ``start``; returns (value, end)."""
    out: list[str] = []
    index = start + 1
    while index < len(source):
        char = source[index]
        if char == '"':
            return "".join(out), index + 1
        if char == "\n":
            break
        if char != "\\":
            out.append(char)
            index += 1
            continue
        index += 1
        if index >= len(source):
            break
        escape = source[index]
        if escape in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[escape])
            index += 1
        elif escape in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[escape]
            digits = source[index + 1 : index + 1 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise LogQLParseError("invalid char escape", *line_col(source, index - 1))
            code = int(digits, 16)
            if escape != "x" and (code > 0x10FFFF or 0xD800 <= code <= 0xDFFF):
                raise LogQLParseError("invalid char escape", *line_col(source, index - 1))
            out.append(chr(code))
            index += 1 + width
        elif escape in "01234567":
            digits = source[index : index + 3]
            if len(digits) != 3 or not all(c in "01234567" for c in digits) or int(digits, 8) > 255:
                raise LogQLParseError("invalid char escape", *line_col(source, index - 1))
            out.append(chr(int(digits, 8)))
            index += 3
        else:
            raise LogQLParseError("invalid char escape", *line_col(source, index - 1))
    raise LogQLParseError("literal not terminated", *line_col(source, start))


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    index = 0
    while index < len(source):
        char = source[index]
        if char in " \t\r\n":
            index += 1
            continue
        if char == "#":
            # LogQL comments run to the end of the line.
            newline = source.find("\n", index)
            index = len(source) if newline < 0 else newline
            continue
        if char == '"':
            value, end = _unquote(source, index)
            tokens.append(Token("STRING", value, index))
            index = end
            continue
        if char == "`":
            end = source.find("`", index + 1)
            if end < 0:
                raise LogQLParseError("literal not terminated", *line_col(source, index))
            tokens.append(Token("STRING", source[index + 1 : end], index))
            index = end + 1
            continue
        if char in _PUNCT:
            tokens.append(Token("PUNCT", char, index))
            index += 1
            continue
        operator = next((op for op in _OPERATORS if source.startswith(op, index)), None)
        if operator is not None:
            tokens.append(Token("OP", operator, index))
            index += len(operator)
            continue
        duration = _DURATION.match(source, index)
        if duration and not _IDENT.match(source, duration.end()):
            tokens.append(Token("DURATION", duration.group(), index))
            index = duration.end()
            continue
        number = _NUMBER.match(source, index)
        if number:
            tokens.append(Token("NUMBER", number.group(), index, float(number.group())))
            index = number.end()
            continue
        ident = _IDENT.match(source, index)
        if ident:
            tokens.append(Token("IDENT", ident.group(), index))
            index = ident.end()
            continue
        line, col = line_col(source, index)
        raise LogQLParseError(f"syntax error: unexpected {char}", line, col)
    tokens.append(Token("EOF", "", len(source)))
    return tokens


# --- RE2 ------------------------------------------------------------------------------------

_NAMED_GROUP_GO = re.compile(r"\(\?<(?![=!])")


def compile_re2(pattern: str) -> re.Pattern[str]:
    """Compile a Go RE2 regexp with Python ``re``; refuse what RE2 refuses.

    RE2 has no backreferences, lookarounds, atomic groups, conditionals or
    possessive quantifiers; Python has them all, so they are rejected here with
    Go's wording.  ``(?<name>...)`` (Go >= 1.22) becomes ``(?P<name>...)``.
    """
    index = 0
    in_class = False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            nxt = pattern[index + 1 : index + 2]
            if not in_class and nxt.isdigit() and nxt != "0":
                raise ValueError(f"invalid escape sequence: `\\{nxt}`")
            if nxt in ("Z", "g", "k") and not in_class:
                raise ValueError(f"invalid escape sequence: `\\{nxt}`")
            index += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
            index += 1
            continue
        if char == "[":
            in_class = True
            # A leading ] (or ^]) is a literal in the class.
            if pattern[index + 1 : index + 3] == "^]":
                index += 2
            elif pattern[index + 1 : index + 2] == "]":
                index += 1
            index += 1
            continue
        if pattern.startswith(("(?=", "(?!", "(?<=", "(?<!", "(?>", "(?(", "(?P="), index):
            end = pattern.find(")", index)
            snippet = pattern[index : index + 3] if end < 0 else pattern[index : end + 1]
            raise ValueError(f"invalid or unsupported Perl syntax: `{snippet[:4]}`")
        if char in "*+?}" and pattern[index + 1 : index + 2] == "+":
            raise ValueError(f"invalid nested repetition operator: `{char}+`")
        index += 1
    translated = _NAMED_GROUP_GO.sub("(?P<", pattern).replace("\\z", "\\Z")
    try:
        return re.compile(translated)
    except re.error as error:
        raise ValueError(f"{error.msg}: `{pattern}`") from error


# --- AST ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str
    regex: re.Pattern[str] | None = None

    def matches(self, value: str) -> bool:
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        assert self.regex is not None
        found = self.regex.fullmatch(value) is not None
        return found if self.op == "=~" else not found


@dataclass(frozen=True)
class LineFilter:
    op: str
    value: str
    regex: re.Pattern[str] | None = None

    def keeps(self, line: str) -> bool:
        if self.op == "|=":
            return self.value in line
        if self.op == "!=":
            return self.value not in line
        assert self.regex is not None
        found = self.regex.search(line) is not None
        return found if self.op == "|~" else not found


@dataclass(frozen=True)
class ParserStage:
    kind: str
    expression: str | None = None
    regex: re.Pattern[str] | None = None
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabelFilter:
    name: str
    op: str
    value: str | float
    regex: re.Pattern[str] | None = None


Stage = LineFilter | ParserStage | LabelFilter


@dataclass(frozen=True)
class LogExpr:
    matchers: tuple[Matcher, ...]
    stages: tuple[Stage, ...] = ()


@dataclass(frozen=True)
class RangeAggregation:
    function: str
    log: LogExpr
    range_ns: int


@dataclass(frozen=True)
class VectorAggregation:
    op: str
    inner: RangeAggregation | VectorAggregation
    by: tuple[str, ...] | None = None
    without: tuple[str, ...] | None = None
    param: int | None = None


MetricExpr = RangeAggregation | VectorAggregation
Expr = LogExpr | MetricExpr


@dataclass
class _Parser:
    source: str
    tokens: list[Token]
    index: int = 0
    _unused: list[str] = field(default_factory=list)

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def fail(self, token: Token | None = None) -> LogQLParseError:
        token = token or self.current
        line, col = line_col(self.source, token.pos)
        return LogQLParseError(f"syntax error: unexpected {token.display}", line, col)

    def advance(self) -> Token:
        token = self.current
        self.index += 1
        return token

    def is_punct(self, text: str) -> bool:
        return self.current.kind == "PUNCT" and self.current.text == text

    def expect_punct(self, text: str) -> Token:
        if not self.is_punct(text):
            raise self.fail()
        return self.advance()

    def expect(self, kind: str) -> Token:
        if self.current.kind != kind:
            raise self.fail()
        return self.advance()

    # -- entry --

    def parse(self) -> Expr:
        expr = self.parse_expr()
        if self.current.kind != "EOF":
            raise self.fail()
        return expr

    def parse_expr(self) -> Expr:
        token = self.current
        if token.kind == "IDENT" and token.text in RANGE_FUNCTIONS:
            return self.parse_range_aggregation()
        if token.kind == "IDENT" and token.text in VECTOR_AGGREGATIONS:
            return self.parse_vector_aggregation()
        if self.is_punct("{"):
            return self.parse_log()
        if self.is_punct("("):
            self.advance()
            inner = self.parse_expr()
            self.expect_punct(")")
            return inner
        raise self.fail()

    # -- log queries --

    def parse_log(self) -> LogExpr:
        if self.is_punct("("):
            self.advance()
            inner = self.parse_log()
            self.expect_punct(")")
            return inner
        matchers = self.parse_selector()
        return LogExpr(matchers=matchers, stages=self.parse_stages())

    def parse_selector(self) -> tuple[Matcher, ...]:
        open_brace = self.expect_punct("{")
        matchers: list[Matcher] = []
        if self.is_punct("}"):
            self.advance()
        else:
            while True:
                matchers.append(self.parse_matcher())
                if self.is_punct(","):
                    self.advance()
                    continue
                self.expect_punct("}")
                break
        if not any(not m.matches("") for m in matchers):
            del open_brace
            raise LogQLParseError(EMPTY_MATCHER_ERROR)
        return tuple(matchers)

    def parse_matcher(self) -> Matcher:
        name = self.expect("IDENT")
        op = self.current
        if op.kind != "OP" or op.text not in ("=", "!=", "=~", "!~"):
            raise self.fail()
        self.advance()
        value = self.expect("STRING")
        regex = None
        if op.text in ("=~", "!~"):
            regex = self.compile(value)
        return Matcher(name.text, op.text, value.text, regex)

    def compile(self, token: Token) -> re.Pattern[str]:
        try:
            return compile_re2(token.text)
        except ValueError as error:
            line, col = line_col(self.source, token.pos)
            raise LogQLParseError(f"error parsing regexp: {error}", line, col) from None

    def parse_stages(self) -> tuple[Stage, ...]:
        stages: list[Stage] = []
        while self.current.kind == "OP":
            op = self.current.text
            if op in ("|=", "!=", "|~", "!~"):
                self.advance()
                value = self.expect("STRING")
                regex = self.compile(value) if op in ("|~", "!~") else None
                stages.append(LineFilter(op, value.text, regex))
            elif op == "|":
                self.advance()
                stages.append(self.parse_pipe_stage())
            else:
                break
        return tuple(stages)

    def parse_pipe_stage(self) -> Stage:
        token = self.current
        if token.kind != "IDENT":
            raise self.fail()
        if token.text in ("json", "logfmt") and not self._is_label_filter_ahead():
            self.advance()
            return ParserStage(token.text)
        if token.text in ("regexp", "pattern") and self.peek().kind == "STRING":
            self.advance()
            expression = self.advance()
            if token.text == "regexp":
                regex = self.compile(expression)
                names = tuple(name for name in regex.groupindex)
                if not names:
                    raise LogQLParseError("at least one named capture must be supplied")
                return ParserStage("regexp", expression.text, regex, names)
            return _pattern_stage(expression.text)
        return self.parse_label_filter()

    def _is_label_filter_ahead(self) -> bool:
        nxt = self.peek()
        return nxt.kind == "OP" and nxt.text not in ("|", "|=", "|~")

    def parse_label_filter(self) -> LabelFilter:
        name = self.expect("IDENT")
        op = self.current
        if op.kind != "OP" or op.text not in ("=", "!=", "=~", "!~", ">", ">=", "<", "<=", "=="):
            raise self.fail()
        self.advance()
        value = self.current
        if value.kind == "STRING" and op.text in ("=", "!=", "=~", "!~"):
            self.advance()
            regex = self.compile(value) if op.text in ("=~", "!~") else None
            return LabelFilter(name.text, op.text, value.text, regex)
        if value.kind == "NUMBER" and op.text in ("!=", ">", ">=", "<", "<=", "=="):
            self.advance()
            assert isinstance(value.value, float)
            return LabelFilter(name.text, op.text, value.value)
        raise self.fail()

    # -- metric queries --

    def parse_range_aggregation(self) -> RangeAggregation:
        function = self.advance().text
        self.expect_punct("(")
        if self.is_punct("("):
            self.advance()
            log = self.parse_log()
            self.expect_punct(")")
            range_ns = self.parse_range()
        else:
            matchers = self.parse_selector()
            if self.is_punct("["):
                range_ns = self.parse_range()
                log = LogExpr(matchers, self.parse_stages())
            else:
                log = LogExpr(matchers, self.parse_stages())
                range_ns = self.parse_range()
        self.expect_punct(")")
        return RangeAggregation(function, log, range_ns)

    def parse_range(self) -> int:
        self.expect_punct("[")
        token = self.expect("DURATION")
        self.expect_punct("]")
        range_ns = parse_duration_ns(token.text)
        if range_ns <= 0:
            line, col = line_col(self.source, token.pos)
            raise LogQLParseError("syntax error: unexpected DURATION", line, col)
        return range_ns

    def parse_grouping(self) -> tuple[str, tuple[str, ...]]:
        kind = self.advance().text
        self.expect_punct("(")
        names: list[str] = []
        if not self.is_punct(")"):
            while True:
                names.append(self.expect("IDENT").text)
                if self.is_punct(","):
                    self.advance()
                    continue
                break
        self.expect_punct(")")
        return kind, tuple(names)

    def _is_grouping(self) -> bool:
        return self.current.kind == "IDENT" and self.current.text in ("by", "without")

    def parse_vector_aggregation(self) -> VectorAggregation:
        op = self.advance().text
        grouping: tuple[str, tuple[str, ...]] | None = None
        if self._is_grouping():
            grouping = self.parse_grouping()
        self.expect_punct("(")
        param: int | None = None
        if self.current.kind == "NUMBER":
            number = self.advance()
            self.expect_punct(",")
            if op not in ("topk", "bottomk"):
                raise LogQLParseError(f"unsupported parameter for operation {op}({number.text},")
            assert isinstance(number.value, float)
            if not number.value.is_integer():
                raise LogQLParseError(f"invalid parameter {op}({number.text},")
            param = int(number.value)
            if param <= 0:
                raise LogQLParseError(f"invalid parameter {op}({number.text},")
        elif op in ("topk", "bottomk") and self.current.kind == "IDENT" and self.peek().text == ",":
            raise self.fail()
        if self.is_punct("{"):
            raise self.fail()
        inner = self.parse_expr()
        if isinstance(inner, LogExpr):
            raise self.fail()
        self.expect_punct(")")
        if self._is_grouping():
            if grouping is not None:
                raise self.fail()
            grouping = self.parse_grouping()
        if op in ("topk", "bottomk") and param is None:
            raise LogQLParseError(f"parameter required for operation {op}")
        by = grouping[1] if grouping and grouping[0] == "by" else None
        without = grouping[1] if grouping and grouping[0] == "without" else None
        return VectorAggregation(op, inner, by=by, without=without, param=param)


_PATTERN_CAPTURE = re.compile(r"<(_|[a-zA-Z_][a-zA-Z0-9_]*)>")


def _pattern_stage(expression: str) -> ParserStage:
    """Loki's pattern parser: literals and ``<name>`` / ``<_>`` captures, anchored at start."""
    parts: list[str] = []
    names: list[str] = []
    position = 0
    previous_capture = False
    for match in _PATTERN_CAPTURE.finditer(expression):
        literal = expression[position : match.start()]
        if not literal and previous_capture:
            raise LogQLParseError(
                f"stage 'pattern' : consecutive captures are not allowed: {expression}"
            )
        parts.append(re.escape(literal))
        name = match.group(1)
        if name == "_":
            parts.append("(?:.*?)")
        else:
            if name in names:
                raise LogQLParseError(f"stage 'pattern' : duplicate capture name ({name})")
            names.append(name)
            parts.append(f"(?P<{name}>.*?)")
        position = match.end()
        previous_capture = True
    tail = expression[position:]
    if not names:
        raise LogQLParseError("stage 'pattern' : at least one capture is required")
    if tail:
        parts.append(re.escape(tail))
    elif parts:
        # A trailing capture takes the rest of the line.
        parts[-1] = parts[-1].replace(".*?", ".*")
    return ParserStage("pattern", expression, re.compile("^" + "".join(parts), re.S), tuple(names))


def parse(source: str) -> Expr:
    """Parse a LogQL query; raises ``LogQLParseError`` with Loki's wording."""
    parser = _Parser(source, tokenize(source))
    expr = parser.parse()
    _validate_numbers(expr)
    return expr


def _validate_numbers(expr: Expr) -> None:
    if isinstance(expr, VectorAggregation):
        _validate_numbers(expr.inner)
    elif isinstance(expr, RangeAggregation):
        _validate_numbers(expr.log)
    else:
        for stage in expr.stages:
            if (
                isinstance(stage, LabelFilter)
                and isinstance(stage.value, float)
                and not math.isfinite(stage.value)
            ):
                raise LogQLParseError(f"invalid number {stage.value}")


def parse_selector_only(source: str) -> tuple[Matcher, ...]:
    """A bare stream selector (``match[]`` of /series, ``query`` of /labels)."""
    expr = parse(source)
    if not isinstance(expr, LogExpr) or expr.stages:
        raise LogQLParseError("only label matchers are supported")
    return expr.matchers


def is_metric(expr: Expr) -> bool:
    return not isinstance(expr, LogExpr)
