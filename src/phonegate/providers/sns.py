"""Amazon SNS: SMS by the Query API's ``Publish`` to a phone number (API version 2010-03-31).

Follows providers-wire.md §2 (the Amazon SNS row); §4 describes the fake (moto behind a
signature-checking front). botocore signs the request with SigV4 (the ``aws`` extra, imported
only when a message goes out, so phonegate without it still imports); httpx sends it through
:mod:`phonegate.providers.transport` like every other vendor call. SNS reports delivery only to
CloudWatch logs, never to a callback, so a published message is "sent".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, ClassVar, Literal, NoReturn
from urllib.parse import urlencode
from xml.etree import ElementTree

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from phonegate.providers.base import (
    E164,
    BaseUrl,
    Misconfigured,
    OutgoingMessage,
    ProviderError,
    Rejected,
    Retryable,
    SenderRule,
    SendResult,
    matching,
)
from phonegate.providers.transport import (
    bad_response,
    raise_for_code,
    raise_for_status,
    send,
    xml_body,
)

API_VERSION = "2010-03-31"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"

# AWS's own sender-ID rule: 1-11 letters and digits, not digits only.
_SENDER_ID = SenderRule(number_length=None, spaces=False)

_CODE_KINDS: dict[str, type[ProviderError]] = {
    **dict.fromkeys(
        (
            "AccessDenied",
            "AccessDeniedException",
            "AuthorizationError",
            "ExpiredToken",
            "IncompleteSignature",
            "InvalidClientTokenId",
            "MissingAuthenticationToken",
            "OptInRequired",
            "SignatureDoesNotMatch",
            "UnrecognizedClientException",
        ),
        Misconfigured,
    ),
    **dict.fromkeys(
        (
            "InternalError",
            "InternalFailure",
            "ServiceUnavailable",
            "Throttled",
            "Throttling",
            "ThrottlingException",
        ),
        Retryable,
    ),
    **dict.fromkeys(
        ("InvalidParameter", "InvalidParameterValue", "OptedOut", "ParameterValueInvalid"),
        Rejected,
    ),
}


class SnsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region: Annotated[
        str,
        matching(r"[a-z]{2}(-[a-z]+)+-\d{1,2}", "must be an AWS region name such as us-east-1"),
    ] = Field(description="AWS region, e.g. us-east-1")
    access_key_id: str = Field(pattern=r"^\w{16,128}$")
    secret_access_key: SecretStr = Field(min_length=1)
    # Temporary credentials (STS); sent as X-Amz-Security-Token, which is base64.
    session_token: (
        Annotated[SecretStr, matching(r"[A-Za-z0-9+/=]+", "must be the base64 token STS issued")]
        | None
    ) = None
    sms_type: Literal["Transactional", "Promotional"] = "Transactional"
    sender_id: Annotated[str, AfterValidator(_SENDER_ID)] | None = None
    origination_number: (
        Annotated[str, matching(E164.pattern, "must be an E.164 number such as +15550100")] | None
    ) = None
    max_price: Decimal | None = Field(None, gt=0, description="USD per message")
    # None: the region's public endpoint (see ``endpoint``), so a changed region follows.
    base_url: BaseUrl | None = None
    timeout_seconds: float = Field(10.0, gt=0, le=60)

    @property
    def endpoint(self) -> str:
        if self.base_url is not None:
            return self.base_url
        suffix = "amazonaws.com.cn" if self.region.startswith("cn-") else "amazonaws.com"
        return f"https://sns.{self.region}.{suffix}"


class SnsProvider:
    name: ClassVar[str] = "sns"
    Config: ClassVar[type[BaseModel]] = SnsConfig

    def __init__(self, config: SnsConfig, http: httpx.AsyncClient) -> None:
        self._config = config
        self._http = http
        self._url = config.endpoint + "/"

    @property
    def channels(self) -> frozenset[str]:
        return frozenset({"sms"})

    async def send_sms(self, message: OutgoingMessage) -> SendResult:
        body = self._publish_form(message)
        response = await send(
            self._http,
            "POST",
            self._url,
            provider=self.name,
            timeout=self._config.timeout_seconds,
            content=body,
            headers=self._signed_headers(body),
        )
        root = xml_body(response)
        message_id = root.findtext("{*}PublishResult/{*}MessageId") if root is not None else None
        if response.status_code != 200 or not message_id:
            self._fail(response, root)
        return SendResult(provider=self.name, provider_message_id=message_id, status="sent")

    def _publish_form(self, message: OutgoingMessage) -> bytes:
        config = self._config
        attributes: list[tuple[str, str, str]] = [
            ("AWS.SNS.SMS.SMSType", "String", config.sms_type)
        ]
        sender = message.sender or config.sender_id
        if sender:
            attributes.append(("AWS.SNS.SMS.SenderID", "String", sender))
        if config.origination_number:
            attributes.append(
                ("AWS.SNS.SMS.OriginationNumber", "String", config.origination_number)
            )
        if config.max_price is not None:
            attributes.append(("AWS.SNS.SMS.MaxPrice", "Number", str(config.max_price)))
        fields = [
            ("Action", "Publish"),
            ("Version", API_VERSION),
            ("PhoneNumber", message.recipient),
            ("Message", message.text),
        ]
        for index, (name, data_type, value) in enumerate(attributes, start=1):
            entry = f"MessageAttributes.entry.{index}"
            fields += [
                (f"{entry}.Name", name),
                (f"{entry}.Value.DataType", data_type),
                (f"{entry}.Value.StringValue", value),
            ]
        return urlencode(fields).encode()

    def _signed_headers(self, body: bytes) -> dict[str, str]:
        try:
            from botocore.auth import SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials
        except ImportError:
            raise Misconfigured(
                "the sns provider needs botocore: install phonegate[aws]",
                code="missing_dependency",
            ) from None
        config = self._config
        credentials = Credentials(
            config.access_key_id,
            config.secret_access_key.get_secret_value(),
            config.session_token.get_secret_value() if config.session_token else None,
        )
        request = AWSRequest(
            method="POST", url=self._url, data=body, headers={"Content-Type": FORM_CONTENT_TYPE}
        )
        SigV4Auth(credentials, "sns", config.region).add_auth(request)
        return {name: str(value) for name, value in request.headers.items()}

    def _fail(self, response: httpx.Response, root: ElementTree.Element | None) -> NoReturn:
        error = root.find("{*}Error") if root is not None else None
        code = (error.findtext("{*}Code") if error is not None else None) or ""
        detail = self._redact((error.findtext("{*}Message") if error is not None else None) or "")
        text = f"Amazon SNS refused the request ({code}): {detail}"
        raise_for_code(response, code, text, _CODE_KINDS)
        raise_for_status(response, provider="Amazon SNS", detail=detail, code=code or None)
        raise bad_response("Amazon SNS", "a MessageId")

    def _redact(self, vendor_text: str) -> str:
        """The first line only: AWS appends the canonical request (security-token header
        included) to SignatureDoesNotMatch; any credential left is blanked as well."""
        first_line = vendor_text.strip().split("\n", 1)[0]
        for secret in (self._config.secret_access_key, self._config.session_token):
            if secret is not None and secret.get_secret_value():
                first_line = first_line.replace(secret.get_secret_value(), "***")
        return first_line
