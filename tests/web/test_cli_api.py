"""``phonegate api``: the CLI equivalent of every Management API call, in-process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from phonegate.bootstrap import Credentials
from phonegate.cli_api import call
from phonegate.container import Container
from phonegate.settings import Settings


async def test_call_reads_and_writes_through_the_management_api(
    container: Container, creds: Credentials
) -> None:
    r = await call(
        container,
        "PUT",
        "/guardian/factors/phone/message-types",
        {"message_types": ["sms", "voice"]},
    )
    assert r.status_code == 200, r.text
    r = await call(container, "GET", "guardian/factors/phone/message-types")
    assert r.json() == {"message_types": ["sms", "voice"]}


async def test_call_reports_the_api_error(container: Container, creds: Credentials) -> None:
    r = await call(
        container, "PUT", "/guardian/factors/phone/message-types", {"message_types": ["fax"]}
    )
    assert r.status_code == 400
    assert r.json()["message"].startswith("message_types must be")


def test_command_prints_json_and_fails_on_errors(settings: Settings, tmp_path: Path) -> None:
    env = {
        "PHONEGATE_DATABASE_URL": settings.database_url,
        "PHONEGATE_DATA_DIR": str(tmp_path),
        "PHONEGATE_SECRET_KEYS": settings.secret_keys.get_secret_value(),
        "PATH": "/usr/bin:/bin",
    }
    cli = [sys.executable, "-m", "phonegate.cli"]
    subprocess.run([*cli, "bootstrap"], env=env, check=True, capture_output=True)
    ok = subprocess.run(
        [*cli, "api", "PUT", "/guardian/factors/sms", json.dumps({"enabled": True})],
        env=env,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"enabled": True}
    bad = subprocess.run(
        [*cli, "api", "PUT", "/guardian/factors/phone/selected-provider", '{"provider": "pigeon"}'],
        env=env,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["statusCode"] == 400
