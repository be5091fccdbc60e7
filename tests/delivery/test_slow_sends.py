"""A slow provider holds up only its own messages: one queued while a send is in flight goes
out at once, from the pass already running."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from phonegate.bootstrap import Credentials
from phonegate.container import Container
from tests.conftest import Api
from tests.delivery.conftest import use_guardian_twilio
from tests.delivery.test_dispatcher import enqueue_enrollment
from tests.fakes.twilio import TwilioFake


async def until(check: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_a_message_queued_during_a_slow_send_is_not_held_up(
    api: Api, container: Container, creds: Credentials, twilio: TwilioFake
) -> None:
    await api.enable_mfa()
    await use_guardian_twilio(api, twilio)
    await enqueue_enrollment(container, creds)
    twilio.delay = 3.0
    dispatcher = container.dispatcher
    running = asyncio.create_task(dispatcher.run_once())
    await until(lambda: len(twilio.received) == 1, 5)
    await enqueue_enrollment(container, creds)  # a new code while the first send waits
    assert await dispatcher.run_once() == 0  # the running pass takes it
    started = time.monotonic()
    await until(lambda: len(twilio.received) == 2, 2.5)
    assert time.monotonic() - started < 2.5 and not running.done()
    assert await running == 2
