"""Twilio Verify v2, as providers-wire.md §1.6 describes it, in two modes.

``custom_code``: phonegate makes and checks the code; Verify delivers it (``CustomCode``) and is
told when it was used (``Status=approved``), which Fraud Guard needs (``report_success``).
``hosted``: Verify makes, sends and checks the code (``VerificationCheck``); phonegate stores
none and the dispatcher uses the HostedVerifier methods instead of send_sms/place_call.
"""

from __future__ import annotations

from typing import ClassVar, Literal
from urllib.parse import quote

import httpx
from pydantic import Field

from phonegate.providers.base import (
    BaseUrl,
    Misconfigured,
    OutgoingMessage,
    Rejected,
    Retryable,
    SendResult,
    pick_locale,
)
from phonegate.providers.twilio_common import ErrorKinds, TwilioApi, TwilioCredentials

Mode = Literal["custom_code", "hosted"]
VerifyChannel = Literal["sms", "call"]

ERRORS: ErrorKinds = {
    20003: Misconfigured,  # authentication failed
    20404: Misconfigured,  # starting on a service that does not exist (checks handle 404 first)
    20429: Retryable,  # rate limited
    60212: Retryable,  # too many concurrent verifications for this number
    60200: Rejected,  # invalid parameter, e.g. a malformed To
    60202: Rejected,  # max check attempts reached
    60203: Rejected,  # max send attempts reached
    60205: Rejected,  # SMS to a landline
    60410: Rejected,  # Fraud Guard blocked the prefix
    60605: Rejected,  # Verify geo permissions block the destination
}

# Verify's locales that are plain language codes.
_LANGUAGES = (
    "af ar ca cs da de el en es fi fr he hi hr hu id it ja ko ms nb nl pl ro ru sv th tl tr vi zh"
)
# phonegate locale (lower-case) -> Verify ``Locale``; unknown ones are left to Verify to pick.
LOCALES: dict[str, str] = {code: code for code in _LANGUAGES.split()} | {
    "en-gb": "en-GB",
    "pt": "pt-BR",
    "pt-br": "pt-BR",
    "pt-pt": "pt",
    "zh-cn": "zh-CN",
    "zh-hk": "zh-HK",
    "no": "nb",
}


class TwilioVerifyConfig(TwilioCredentials):
    service_sid: str = Field(pattern=r"^VA[0-9a-fA-F]{32}$", description="Verify Service SID")
    base_url: BaseUrl = "https://verify.twilio.com"
    mode: Mode = "custom_code"


class TwilioVerifyProvider:
    name: ClassVar[str] = "twilio_verify"
    Config: ClassVar[type[TwilioVerifyConfig]] = TwilioVerifyConfig

    def __init__(self, config: TwilioVerifyConfig, http: httpx.AsyncClient) -> None:
        self._mode = config.mode
        self._api = TwilioApi(config, config.base_url, http, provider=self.name, errors=ERRORS)
        self._service_path = f"/v2/Services/{config.service_sid}"

    @property
    def channels(self) -> frozenset[str]:
        return frozenset({"sms", "voice"})

    @property
    def hosted(self) -> bool:
        """Whether Verify owns the code: HostedVerifier methods, not send_sms/place_call."""
        return self._mode == "hosted"

    # -- custom_code mode -------------------------------------------------------------------

    async def send_sms(self, message: OutgoingMessage) -> SendResult:
        return await self._send_custom_code(message, "sms")

    async def place_call(self, message: OutgoingMessage) -> SendResult:
        return await self._send_custom_code(message, "call")

    async def _send_custom_code(
        self, message: OutgoingMessage, channel: VerifyChannel
    ) -> SendResult:
        self._require_mode("custom_code")
        if not message.code:
            raise Rejected("twilio_verify only sends verification codes", code="no_code")
        return await self._start(message, channel, custom_code=message.code)

    async def report_success(self, recipient: str, provider_message_id: str | None) -> None:
        """Mark the verification approved (Fraud Guard's conversion signal). A 404 means it is
        already approved or expired: nothing left to report."""
        target = provider_message_id or quote(recipient, safe="")
        response = await self._api.post(
            f"{self._service_path}/Verifications/{target}", {"Status": "approved"}
        )
        if response.status_code != 404:
            self._api.raise_for_error(response)

    # -- hosted mode ------------------------------------------------------------------------

    async def start_verification(self, message: OutgoingMessage) -> SendResult:
        self._require_mode("hosted")
        return await self._start(message, "call" if message.channel == "voice" else "sms")

    async def check_verification(
        self, recipient: str, code: str, verification_id: str | None
    ) -> bool:
        """True for "approved"; False for a wrong code ("pending") and for a verification that
        is expired, already approved or unknown (404)."""
        self._require_mode("hosted")
        form = {"Code": code}
        if verification_id:
            form["VerificationSid"] = verification_id
        else:
            form["To"] = recipient
        response = await self._api.post(f"{self._service_path}/VerificationCheck", form)
        if response.status_code == 404:
            return False
        return self._api.resource(response).get("status") == "approved"

    # -- shared -----------------------------------------------------------------------------

    def _require_mode(self, mode: Mode) -> None:
        if self._mode != mode:
            raise Misconfigured(
                f"twilio_verify is configured in {self._mode} mode, not {mode}",
                code="wrong_mode",
            )

    async def _start(
        self, message: OutgoingMessage, channel: VerifyChannel, custom_code: str | None = None
    ) -> SendResult:
        form = {"To": message.recipient, "Channel": channel}
        if custom_code is not None:
            form["CustomCode"] = custom_code
        locale = pick_locale(message.locale, LOCALES)
        if locale is not None:
            form["Locale"] = locale
        response = await self._api.post(f"{self._service_path}/Verifications", form)
        body = self._api.resource(response)
        return SendResult(provider=self.name, provider_message_id=body["sid"], status="sent")
