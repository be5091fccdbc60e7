"""(being written) Searching the tenant log for the logs API."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection


class SqlLogSearch:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
