"""The tenant log (auth0-api.md §3.9, entries in Auth0's shape §5.1; ``web/management/logs.py``,
``domain/logs.py``, ``domain/events.py``). Fields an event does not have are left out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import Field

from phonegate.domain.logs import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from phonegate.web.management.schemas.common import (
    BOOLEAN,
    INCLUDE_TOTALS,
    TEXT,
    Strict,
    integer,
    omitted,
    page_query,
    query,
)


class LogEntryFields(Strict):
    """An entry with only the fields asked for (``fields`` and ``include_fields``)."""

    date: datetime = omitted()
    type: str = omitted(examples=["gd_send_sms"])
    description: str = omitted()
    client_id: str = omitted()
    client_name: str = omitted()
    ip: str = omitted()
    user_agent: str = omitted()
    user_id: str = omitted()
    user_name: str = omitted()
    connection: str = omitted()
    details: dict[str, Any] = omitted()
    log_id: str = omitted()
    id_: str = omitted(alias="_id", description="The log_id again, as Auth0 has it.")
    tenant_name: str = omitted()


class LogEntry(LogEntryFields):
    date: datetime
    type: str = Field(examples=["gd_send_sms"])
    description: str
    details: dict[str, Any]
    log_id: str
    id_: str = Field(alias="_id", description="The log_id again, as Auth0 has it.")
    tenant_name: str


class LogFieldsPage(Strict):
    logs: Sequence[LogEntryFields]
    start: int
    limit: int
    length: int
    total: int


class LogPage(LogFieldsPage):
    logs: Sequence[LogEntry]


SearchResult = list[LogEntryFields] | LogFieldsPage
UserLogs = list[LogEntry] | LogPage

_SORT = query(
    "sort", {"type": "string", "enum": ["date:1", "date:-1"], "default": "date:-1"}, "Order."
)
_SEARCH_QUERY = [*page_query(DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE), _SORT, INCLUDE_TOTALS]
LIST_QUERY = [
    query(
        "q",
        TEXT,
        "Lucene-style terms over type, user_id, client_id, ip and date, as "
        "type:(gd_send_sms OR gd_send_voice) AND date:[2026-01-01 TO *].",
    ),
    *_SEARCH_QUERY,
    query("fields", TEXT, "Comma-separated entry fields to include (or exclude)."),
    query("include_fields", BOOLEAN, "false: leave out the named fields instead."),
    query(
        "from",
        TEXT,
        "Checkpoint paging: the entries after this log_id, oldest first (other parameters "
        "but take are then ignored).",
    ),
    query("take", integer(1, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE), "Checkpoint paging: how many."),
]
USER_LOGS_QUERY = _SEARCH_QUERY
NEXT_LINK = {
    "Link": {
        "description": 'Checkpoint paging: the next page, as <…/api/v2/logs?from=…&take=…>; rel="next".',
        "schema": TEXT,
    }
}
