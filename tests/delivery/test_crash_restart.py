"""Kill the dispatcher mid-batch and restart it: every message is sent exactly once or marked
failed, none is lost, and the only duplicates are sends whose outcome the dead dispatcher
never learnt, each visible in the message's attempts."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from phonegate.bootstrap import Credentials
from phonegate.clock import FrozenClock
from phonegate.container import Container
from phonegate.delivery.dispatcher import LEASE_SECONDS
from phonegate.settings import Settings
from tests.conftest import Api, make_settings
from tests.delivery.conftest import enqueue_enrollment, outbox, use_guardian_twilio
from tests.fakes.server import wait_for
from tests.fakes.twilio import TwilioFake

MESSAGES = 30
BATCH = 8  # sends in flight at once (PHONEGATE_DISPATCH_CONCURRENCY)
SEND_SECONDS = 0.3


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url, tmp_path, outbound_allow_private=True, dispatch_concurrency=BATCH
    )


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the event loop run until ``predicate()`` holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_a_killed_dispatcher_restarts_without_losing_or_resending(
    api: Api,
    container: Container,
    creds: Credentials,
    clock: FrozenClock,
    settings: Settings,
    twilio: TwilioFake,
) -> None:
    await api.enable_mfa()
    await use_guardian_twilio(api, twilio)
    # One user enrolls many numbers here; its abuse limit is not what this test is about.
    r = await api.mgmt(
        "PATCH", "/attack-protection/phone-limits", json={"user_messages_per_hour": MESSAGES}
    )
    assert r.status_code == 200, r.text
    phones = [f"+1415555{100 + i:04d}" for i in range(MESSAGES)]
    for phone in phones:
        await enqueue_enrollment(container, creds, phone)
    twilio.delay = SEND_SECONDS

    # Kill the pass while its second wave of sends is with Twilio.
    dispatching = asyncio.create_task(container.dispatcher.run_once())
    await until(lambda: len(twilio.received) == 2 * BATCH)
    statuses = Counter(m.status for m in await outbox(container))
    # Only what is being sent is claimed: nothing waits out its lease behind a busy batch.
    assert statuses == {"sent": BATCH, "sending": BATCH, "pending": MESSAGES - 2 * BATCH}
    dispatching.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await dispatching
    # Twilio finishes what it was given: those messages did go out, unknown to phonegate.
    assert wait_for(lambda: len(twilio.messages) == 2 * BATCH)
    twilio.delay = 0

    clock.advance(LEASE_SECONDS + 1)
    async with Container(settings, clock=clock) as restarted:
        assert await restarted.dispatcher.run_once() == MESSAGES - BATCH

    messages = await outbox(container)
    assert {m.status for m in messages} == {"sent"}  # none lost, none left pending
    received = Counter(m.to for m in twilio.messages)
    assert set(received) == set(phones)
    async with container.unit_of_work() as uow:
        attempts = {m.id: await uow.delivery_attempts.for_message(m.id) for m in messages}
    interrupted = {
        m.recipient
        for m in messages
        if [a.outcome for a in attempts[m.id]] == ["interrupted", "sent"]
    }
    assert len(interrupted) == BATCH
    for message in messages:
        outcomes = [a.outcome for a in attempts[message.id]]
        if message.recipient in interrupted:
            # At least once for an unknown outcome: sent again, and the attempts say why.
            assert received[message.recipient] == 2
            assert attempts[message.id][0].finished_at is not None
        else:
            # Known to be sent (mark_sent committed) or never tried: exactly once.
            assert outcomes == ["sent"]
            assert received[message.recipient] == 1
        sids = [m.sid for m in twilio.messages if m.to == message.recipient]
        assert (
            message.provider_message_id == sids[-1] == attempts[message.id][-1].provider_message_id
        )
