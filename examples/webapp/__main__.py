"""``python -m examples.webapp``: serve the sample application (settings from the
environment, see README.md)."""

from __future__ import annotations

import uvicorn
from examples.webapp.app import create_app
from examples.webapp.config import WebappConfig

config = WebappConfig.from_env()
uvicorn.run(create_app(config), host="127.0.0.1", port=config.port, log_level="info")
