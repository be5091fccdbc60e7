"""The tenant log beyond the database: log streams to operator sinks (``shipper``,
``sinks``), spike alerts written into the log itself (``alerts``), and its retention."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from phonegate.domain.ports import UnitOfWork

UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]
