"""Types the delivery modules share."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from phonegate.domain.ports import UnitOfWork

UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]
