"""Fixtures every provider test module shares: the outbound client providers send through, and
a fresh start for the module's vendor fake.

A module names its running fake ``fake`` (usually module-scoped, so the server starts once);
each test that uses it finds it reset: no forced failures, hangs, delay or records left over.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from phonegate.outbound import outbound_client


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The guarded outbound client, allowed to reach the fakes on 127.0.0.1."""
    async with outbound_client(allow_private=True) as client:
        yield client


@pytest.fixture(autouse=True)
def _reset_fake(request: pytest.FixtureRequest) -> None:
    if "fake" in request.fixturenames:
        request.getfixturevalue("fake").reset()
