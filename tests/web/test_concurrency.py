"""Single use under concurrency: of 20 simultaneous correct submissions exactly one wins."""

from __future__ import annotations

import asyncio

from tests.conftest import Api


async def test_twenty_simultaneous_correct_codes_one_winner(api: Api) -> None:
    await api.enable_mfa()
    await api.enrolled_user()
    token = await api.mfa_token()
    r = await api.challenge(token)
    assert r.status_code == 200, r.text
    oob_code, code = r.json()["oob_code"], await api.last_code()

    results = await asyncio.gather(*(api.oob_grant(token, oob_code, code) for _ in range(20)))

    statuses = sorted(r.status_code for r in results)
    assert statuses.count(200) == 1, [r.text for r in results]
    losers = [r.json() for r in results if r.status_code != 200]
    assert all(body["error"] == "invalid_grant" for body in losers), losers
    assert all(r.status_code < 500 for r in results)


async def test_twenty_simultaneous_recovery_codes_one_winner(api: Api) -> None:
    await api.enable_mfa()
    enrolled = await api.enrolled_user()
    token = await api.mfa_token()

    results = await asyncio.gather(
        *(api.recovery_grant(token, enrolled["recovery_code"]) for _ in range(20))
    )

    assert [r.status_code for r in results].count(200) == 1, [r.text for r in results]
    assert all(r.status_code == 403 for r in results if r.status_code != 200)
