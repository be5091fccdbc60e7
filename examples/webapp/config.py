"""The sample application's settings, from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WebappConfig:
    phonegate_url: str  # where phonegate serves, e.g. http://127.0.0.1:8080
    client_id: str
    client_secret: str  # the demo application is a confidential client; PKCE on top
    url: str = "http://127.0.0.1:8081"  # this application; /callback must be registered

    @property
    def issuer(self) -> str:
        return self.phonegate_url.rstrip("/") + "/"

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].split("/", 1)[0])

    @classmethod
    def from_env(cls) -> WebappConfig:
        missing = [n for n in ("WEBAPP_CLIENT_ID", "WEBAPP_CLIENT_SECRET") if not os.environ.get(n)]
        if missing:
            raise SystemExit(
                f"set {' and '.join(missing)}: the demo application's credentials, "
                "printed by `phonegate bootstrap`"
            )
        return cls(
            phonegate_url=os.environ.get("PHONEGATE_URL", "http://127.0.0.1:8080"),
            client_id=os.environ["WEBAPP_CLIENT_ID"],
            client_secret=os.environ["WEBAPP_CLIENT_SECRET"],
            url=os.environ.get("WEBAPP_URL", "http://127.0.0.1:8081"),
        )
