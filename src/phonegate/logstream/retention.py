"""Retention of the tenant log: events older than ``PHONEGATE_LOG_RETENTION_DAYS`` (Auth0 keeps
a plan's retention period the same way) are deleted by the background loop or a worker."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from phonegate.domain.ports import UnitOfWorkFactory

log = logging.getLogger("phonegate.logstream")

# Rows per statement and transaction: a large purge never holds a long lock (SQLite's one
# writer, PostgreSQL's row locks) and interleaves with the requests' own transactions.
BATCH_SIZE = 1000


async def purge(
    uow_factory: UnitOfWorkFactory, now: datetime, days: int, *, batch_size: int = BATCH_SIZE
) -> int:
    """Delete every event dated more than ``days`` before ``now``, one bounded batch per
    transaction; returns how many were deleted."""
    if days < 1:
        raise ValueError("the log retention period must be at least one day")
    cutoff = now - timedelta(days=days)
    total = 0
    while True:
        async with uow_factory() as uow:
            deleted = await uow.log_search.purge_before(cutoff, batch_size)
        total += deleted
        if deleted < batch_size:
            break
    if total:
        log.info("purged %d log events dated before %s", total, cutoff.isoformat())
    return total
