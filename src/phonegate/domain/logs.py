"""The logs API's parameters and query language: Auth0's ``GET /api/v2/logs`` and
``GET /api/v2/users/{id}/logs`` (auth0-api.md §3.9), with the part of Auth0's log search
syntax (Lucene query strings) that the indexed fields need.

``q`` holds ``field:value``, ``field:"quoted value"``, ``field:(a OR b)`` and
``date:[from TO to]`` (``{``/``}`` for exclusive bounds, ``*`` for an open one) terms, joined by
``AND`` or a space, over ``type``, ``user_id``, ``client_id``, ``ip`` and ``date``. It is parsed
into a closed AST (``LogQuery``) that storage turns into bound parameters, so the text never
reaches SQL; anything else is a 400 ``invalid_query_string`` saying what is not supported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from phonegate.errors import InvalidRequest

MATCH_FIELDS = frozenset({"type", "user_id", "client_id", "ip"})
DATE_FIELD = "date"
MAX_Q_LENGTH = 1024
MAX_VALUES = 50
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
# Auth0 pages through the first 1000 search results only; checkpoint paging is unbounded
# (and a deep OFFSET would walk the whole index).
MAX_SEARCH_RESULTS = 1000
MAX_FIELD_NAMES = 30


@dataclass(frozen=True, slots=True)
class Match:
    """``field`` equals one of ``values``."""

    field: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DateRange:
    """``since <= date`` (``<`` when not inclusive) and ``date < until`` (``<=`` when
    inclusive), in UTC; an open bound is None."""

    since: datetime | None = None
    since_inclusive: bool = True
    until: datetime | None = None
    until_inclusive: bool = False


Term = Match | DateRange


@dataclass(frozen=True, slots=True)
class LogQuery:
    """Every term must hold; no terms matches every event."""

    terms: tuple[Term, ...] = ()


@dataclass(frozen=True, slots=True)
class Fields:
    """``fields`` and ``include_fields``: which entry fields to return (none named: all)."""

    names: frozenset[str] = frozenset()
    include: bool = True

    def apply(self, entry: dict[str, Any]) -> dict[str, Any]:
        if not self.names:
            return entry
        return {k: v for k, v in entry.items() if (k in self.names) == self.include}


@dataclass(frozen=True, slots=True)
class Search:
    """A page of a search, sorted by date."""

    query: LogQuery
    page: int = 0
    per_page: int = DEFAULT_PAGE_SIZE
    newest_first: bool = True
    include_totals: bool = False
    fields: Fields = Fields()

    @property
    def offset(self) -> int:
        return self.page * self.per_page


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Up to ``take`` events strictly after the log id ``after``, oldest first."""

    after: str
    take: int = DEFAULT_PAGE_SIZE


def _invalid(message: str) -> NoReturn:
    raise InvalidRequest(f"Query validation error: {message}", error_code="invalid_query_string")


# --- q ----------------------------------------------------------------------------------

_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WORD_END = frozenset('()[]{}":')
_BOUND_END = frozenset("()[]{}")
_FIELD_LIST = "type, user_id, client_id, ip and date"


class _Parser:
    """Recursive descent over the text; ``pos`` is where the next token starts."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> NoReturn:
        _invalid(f"q is not supported at character {self.pos + 1}: {what}.")

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_spaces(self) -> None:
        while self.peek().isspace():
            self.pos += 1

    def looking_at(self, *words: str) -> str | None:
        """Which of ``words`` stands alone here (followed by a space or the end), if any."""
        for word in words:
            end = self.pos + len(word)
            if self.text.startswith(word, self.pos) and (
                end == len(self.text) or self.text[end].isspace()
            ):
                return word
        return None

    def keyword(self, *words: str) -> bool:
        word = self.looking_at(*words)
        if word is not None:
            self.pos += len(word)
        return word is not None

    def query(self) -> LogQuery:
        terms: list[Term] = []
        self.skip_spaces()
        while not self.at_end():
            if terms and self.keyword("AND", "&&"):
                self.skip_spaces()
                if self.at_end():
                    self.fail("AND needs a term after it")
            terms.append(self.term())
            self.skip_spaces()
        return LogQuery(tuple(terms))

    def term(self) -> Term:
        if self.looking_at("OR", "||"):
            self.fail(
                "OR joins values of one field only, as in type:(gd_send_sms OR gd_send_voice)"
            )
        if self.looking_at("AND", "&&"):
            self.fail("AND needs a term before it")
        if self.looking_at("NOT") or self.peek() in ("-", "+", "!"):
            self.fail("NOT, +, - and ! are not supported")
        if self.peek() == "(":
            self.fail("parentheses group the values of one field only, as in type:(a OR b)")
        if self.peek() in (")", "]", "}"):
            self.fail("a closing bracket has no opening one")
        found = _FIELD.match(self.text, self.pos)
        if found is None or self.text[found.end() : found.end() + 1] != ":":
            self.fail("a term is field:value (free-text search is not supported)")
        field = found.group()
        if field != DATE_FIELD and field not in MATCH_FIELDS:
            self.fail(f"searching by {field[:40]!r} is not supported; the fields are {_FIELD_LIST}")
        self.pos = found.end() + 1
        self.skip_spaces()
        if field == DATE_FIELD:
            return self.date_range()
        if self.peek() == "(":
            return Match(field, self.alternatives())
        if self.peek() in ("[", "{"):
            self.fail("ranges are supported on date only")
        return Match(field, (self.value(),))

    def alternatives(self) -> tuple[str, ...]:
        self.pos += 1  # "("
        self.skip_spaces()
        values = [self.value()]
        while True:
            self.skip_spaces()
            if self.peek() == ")":
                self.pos += 1
                return tuple(values)
            if self.at_end():
                self.fail("a parenthesis is not closed")
            if not self.keyword("OR", "||"):
                self.fail("values in parentheses are joined by OR")
            self.skip_spaces()
            values.append(self.value())
            if len(values) > MAX_VALUES:
                self.fail(f"at most {MAX_VALUES} values can be given for one field")

    def value(self) -> str:
        if self.peek() == '"':
            return self.quoted()
        if self.peek() in ("(", "[", "{"):
            self.fail("parentheses and brackets cannot be nested")
        start = self.pos
        chars: list[str] = []
        while not self.at_end() and not self.peek().isspace() and self.peek() not in _WORD_END:
            char = self.peek()
            if char in ("*", "?"):
                self.fail("wildcards (* and ?) are not supported; give the whole value")
            if char == "\\":
                self.pos += 1
                if self.at_end():
                    self.fail("a backslash escapes nothing")
                char = self.peek()
            chars.append(char)
            self.pos += 1
        if self.peek() == ":":
            self.fail('quote a value that holds a colon, as in ip:"::1"')
        if self.pos == start:
            self.fail("a value is missing")
        return "".join(chars)

    def quoted(self) -> str:
        self.pos += 1  # the opening quote
        chars: list[str] = []
        while True:
            if self.at_end():
                self.fail("a quote is not closed")
            char = self.peek()
            self.pos += 1
            if char == '"':
                break
            if char == "\\" and not self.at_end():
                char = self.peek()
                self.pos += 1
            chars.append(char)
        if not chars:
            self.fail("a quoted value is empty")
        return "".join(chars)

    def date_range(self) -> DateRange:
        opening = self.peek()
        if opening not in ("[", "{"):
            self.fail("date takes a range, as in date:[2026-01-01 TO 2026-02-01]")
        self.pos += 1
        self.skip_spaces()
        low = self.bound()
        self.skip_spaces()
        if not self.keyword("TO"):
            self.fail("a range is written [from TO to]")
        self.skip_spaces()
        high = self.bound()
        self.skip_spaces()
        closing = self.peek()
        if closing not in ("]", "}"):
            self.fail("a range is not closed with ] or }")
        self.pos += 1
        since, since_inclusive = _since(low, inclusive=opening == "[") if low else (None, True)
        until, until_inclusive = _until(high, inclusive=closing == "]") if high else (None, False)
        return DateRange(since, since_inclusive, until, until_inclusive)

    def bound(self) -> _Bound | None:
        """A date or a time (None for ``*``)."""
        start = self.pos
        if self.peek() == '"':
            text = self.quoted()
        else:
            while not self.at_end() and not self.peek().isspace() and self.peek() not in _BOUND_END:
                self.pos += 1
            text = self.text[start : self.pos]
        if text == "*":
            return None
        if not text:
            self.fail("a range bound is missing (use * for an open one)")
        day = _instant(text + "T00:00:00") if _DAY.fullmatch(text) else None
        if day is not None:
            return day, True
        instant = _instant(text)
        if instant is None:
            self.pos = start
            self.fail("a date bound is an ISO 8601 date or time (2026-01-01, 2026-01-01T10:00:00Z)")
        return instant, False


# A bound's instant, and whether it names a whole day (a date without a time).
_Bound = tuple[datetime, bool]


def _instant(text: str) -> datetime | None:
    """An ISO 8601 date and time in UTC (a time without an offset is UTC)."""
    try:
        value = datetime.fromisoformat(text)
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _next_day(day: datetime) -> datetime:
    try:
        return day + timedelta(days=1)
    except OverflowError:
        _invalid("a date in q is out of range.")


def _since(bound: _Bound, *, inclusive: bool) -> tuple[datetime, bool]:
    """A lower bound; a day covers the whole day, so ``{2026-01-01`` starts the day after."""
    instant, whole_day = bound
    return (_next_day(instant), True) if whole_day and not inclusive else (instant, inclusive)


def _until(bound: _Bound, *, inclusive: bool) -> tuple[datetime, bool]:
    """An upper bound; ``2026-01-31]`` includes all of that day."""
    instant, whole_day = bound
    return (_next_day(instant), False) if whole_day and inclusive else (instant, inclusive)


def parse_query(q: str) -> LogQuery:
    if len(q) > MAX_Q_LENGTH:
        _invalid(f"q is longer than {MAX_Q_LENGTH} characters.")
    return _Parser(q).query()


# --- the other parameters ----------------------------------------------------------------

_INTEGER = re.compile(r"[0-9]{1,9}")
_LOG_ID = re.compile(r"[0-9a-f]{1,64}")
_FIELD_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_.$]{0,63}")


def _integer(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not _INTEGER.fullmatch(raw) or not low <= int(raw) <= high:
        _invalid(f"{name} must be an integer from {low} to {high}.")
    return int(raw)


def _boolean(params: Mapping[str, str], name: str, default: bool) -> bool:
    raw = params.get(name)
    if raw is None:
        return default
    if raw.lower() not in ("true", "false"):
        _invalid(f"{name} must be true or false.")
    return raw.lower() == "true"


def _paging(params: Mapping[str, str]) -> dict[str, Any]:
    page = _integer(params, "page", 0, 0, MAX_SEARCH_RESULTS)
    per_page = _integer(params, "per_page", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    if page * per_page >= MAX_SEARCH_RESULTS:
        _invalid(
            f"You can only page through the first {MAX_SEARCH_RESULTS} records; narrow q or "
            "use checkpoint paging (from and take)."
        )
    sort = params.get("sort", "date:-1")
    if sort not in ("date:1", "date:-1"):
        _invalid("sort must be date:1 (oldest first) or date:-1 (newest first).")
    return {
        "page": page,
        "per_page": per_page,
        "newest_first": sort == "date:-1",
        "include_totals": _boolean(params, "include_totals", False),
    }


def _fields(params: Mapping[str, str]) -> Fields:
    names = frozenset(n.strip() for n in params.get("fields", "").split(",") if n.strip())
    if len(names) > MAX_FIELD_NAMES or not all(_FIELD_NAME.fullmatch(n) for n in names):
        _invalid(f"fields must be a comma-separated list of up to {MAX_FIELD_NAMES} field names.")
    return Fields(names, _boolean(params, "include_fields", True))


def parse_listing(params: Mapping[str, str]) -> Search | Checkpoint:
    """``GET /api/v2/logs``: checkpoint paging when ``from`` is given (as at Auth0, every
    other parameter but ``take`` is then ignored), a search otherwise."""
    if "from" in params:
        after = params["from"]
        if not _LOG_ID.fullmatch(after):
            _invalid("from must be a log_id.")
        return Checkpoint(after, _integer(params, "take", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE))
    return Search(parse_query(params.get("q", "")), fields=_fields(params), **_paging(params))


def parse_user_listing(user_id: str, params: Mapping[str, str]) -> Search:
    """``GET /api/v2/users/{id}/logs``: one user's events, with page, per_page, sort and
    include_totals."""
    return Search(LogQuery((Match("user_id", (user_id,)),)), **_paging(params))
