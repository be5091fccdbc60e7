"""(being written) Log streams and their delivery cursors."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection


class SqlLogStreamRepo:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
