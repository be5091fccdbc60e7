"""An example "Send Phone Message" action to copy: it logs which kind of message goes to whom,
with the number masked, and drops messages to number ranges the operator does not serve.

Create the action with this as its ``code`` (the callable's import path), deploy it and
bind it to the send-phone-message trigger::

    phonegate api POST /actions/actions '{"name": "log and filter",
      "supported_triggers": [{"id": "send-phone-message", "version": "v2"}],
      "code": "examples.actions.send_with_logging:on_send_phone_message"}'

It hands the message to no carrier and calls no network. To deliver for real, send
``options["text"]`` through your carrier where the comment says, with its credentials from
``event["secrets"]``; return the carrier's message id, and call
``api.notification.retry(reason)`` when the carrier is briefly unavailable.
"""

from __future__ import annotations

import logging
from typing import Any

from phonegate.phone import mask
from phonegate.providers.action import ActionApi

log = logging.getLogger(__name__)

# Shared international codes (satellite phones, global networks): rarely a real user, often
# the destination of SMS pumping fraud, where an attacker profits from each message sent.
BLOCKED_PREFIXES = ("+881", "+882", "+883")


def on_send_phone_message(event: dict[str, Any], api: ActionApi) -> str | None:
    options = event["message_options"]
    recipient = mask(options["recipient"])
    if options["recipient"].startswith(BLOCKED_PREFIXES):
        log.warning(
            "dropping the %s message to %s: blocked prefix", options["message_type"], recipient
        )
        api.notification.drop(f"{recipient} is in a number range this service does not serve")
        return None
    # Never log options["text"] or options["code"]: they hold the one-time code.
    log.info(
        "sending the %s %s message to %s", options["action"], options["message_type"], recipient
    )
    # ... hand options["text"] to your carrier here and return its message id ...
    return f"logged-{event['transaction']['correlation_id']}"
