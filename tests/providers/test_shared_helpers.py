"""The configuration rules and answer readers every vendor module shares (providers/base.py
and providers/transport.py), tested once here rather than through each vendor."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from pydantic import AfterValidator, BaseModel, SecretStr, ValidationError

from phonegate.providers.base import (
    BaseUrl,
    Misconfigured,
    OutgoingMessage,
    ProviderError,
    Rejected,
    Retryable,
    SenderRule,
    answered_id,
    matching,
    pick_locale,
)
from phonegate.providers.transport import json_body, raise_for_code, xml_body
from tests.providers.sending import outgoing


class Settings(BaseModel):
    base_url: BaseUrl | None = None
    sender: Annotated[str, AfterValidator(SenderRule((3, 11), (3, 14)))] | None = None
    name_only: Annotated[str, AfterValidator(SenderRule(number_length=None, spaces=False))] = "A"
    reference: Annotated[str, matching(r"EX\d+", "must be EX and digits")] = "EX1"
    secret: Annotated[SecretStr, matching(r"[a-z]+", "must be lower-case letters")] = SecretStr("a")


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://api.example.com", "https://api.example.com"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("https://proxy.example/vendor//", "https://proxy.example/vendor"),
    ],
)
def test_a_base_url_is_kept_without_its_trailing_slash(given: str, kept: str) -> None:
    assert Settings(base_url=given).base_url == kept


@pytest.mark.parametrize(
    "url",
    [
        "api.example.com",
        "ftp://api.example.com",
        "https://",
        "https://api.example.com?region=eu",
        "https://api.example.com/?",
        "https://api.example.com/#top",
        "https://api.example.com/a b",
        "https://api.example.com\n",
    ],
)
def test_a_base_url_is_http_with_a_host_and_nothing_after_its_path(url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(base_url=url)
    assert caught.value.errors()[0]["loc"] == ("base_url",)
    assert "http(s) URL with a host and no query string" in str(caught.value)


@pytest.mark.parametrize(
    ("given", "kept"),
    [("Acme", "Acme"), ("Acme 2FA", "Acme 2FA"), ("+447700900123", "447700900123"), ("123", "123")],
)
def test_a_sender_is_a_name_or_a_number_kept_without_plus(given: str, kept: str) -> None:
    assert Settings(sender=given).sender == kept


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sender", "AB"),  # too short a name
        ("sender", "TWELVECHARSX"),
        ("sender", "Acme-Co"),
        ("sender", "Ácme"),  # ASCII letters only
        ("sender", "12"),
        ("sender", "123456789012345"),
        ("sender", "++4477009001"),
        ("sender", "٣٣٣٣"),  # digits, but not ASCII ones
        ("name_only", "12345"),
        ("name_only", "Acme 2FA"),
    ],
)
def test_a_sender_outside_the_vendors_rule_is_refused(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(**{field: value})
    assert caught.value.errors()[0]["loc"] == (field,)
    assert "sender name of" in str(caught.value)


def test_matching_checks_plain_and_secret_values_with_its_message() -> None:
    assert Settings(reference="EX0012345", secret=SecretStr("abc")).reference == "EX0012345"
    with pytest.raises(ValidationError, match="must be EX and digits"):
        Settings(reference="EX12a")
    with pytest.raises(ValidationError, match="must be lower-case letters") as caught:
        Settings(secret=SecretStr("Not-Secret-Shape"))
    assert "Not-Secret-Shape" not in str(caught.value)


@pytest.mark.parametrize(
    ("seconds", "arguments", "units"),
    [
        (None, {}, None),
        (300, {}, 300),
        (0, {}, 1),  # an expiring code still gets the shortest validity, not the default
        (301, {"unit_seconds": 60}, 6),
        (90, {"unit_seconds": 60, "high": 1}, 1),
        (5, {"low": 20}, 20),
        (10**7, {"unit_seconds": 3600, "high": 72}, 72),
    ],
)
def test_validity_is_whole_units_rounded_up_within_the_vendors_range(
    seconds: int | None, arguments: dict[str, Any], units: int | None
) -> None:
    message: OutgoingMessage = outgoing("+15555550100", valid_for_seconds=seconds)
    assert message.validity(**arguments) == units


@pytest.mark.parametrize(
    ("locale", "found"),
    [("pt-BR", "pt-BR"), ("pt_br", "pt-BR"), ("pt-PT", "pt"), (" fr-CA ", "fr"), ("xx", None)],
)
def test_pick_locale_falls_back_to_the_language(locale: str, found: str | None) -> None:
    assert pick_locale(locale, {"pt-br": "pt-BR", "pt": "pt", "fr": "fr"}) == found


@pytest.mark.parametrize(
    ("answer", "found"),
    [
        ("sent-1", "sent-1"),
        ({"id": "wh_1"}, "wh_1"),
        ({"message_id": 42}, "42"),
        ({"id": "", "message_id": "m_2"}, "m_2"),
        ({"id": True}, None),
        ({"id": 1.5}, None),
        ({"id": {"nested": "x"}}, None),
        ("", None),
        (None, None),
        ([{"id": "x"}], None),
    ],
)
def test_answered_id_takes_a_string_or_a_whole_number(answer: object, found: str | None) -> None:
    assert answered_id(answer) == found


@pytest.mark.parametrize(
    ("content", "body"),
    [(b'{"id": 1}', {"id": 1}), (b"[1, 2]", {}), (b"not json", {}), (b"", {})],
)
def test_json_body_is_the_answers_object_or_empty(content: bytes, body: dict[str, Any]) -> None:
    assert json_body(httpx.Response(200, content=content)) == body


def test_xml_body_is_the_document_or_none() -> None:
    root = xml_body(httpx.Response(200, content=b"<a><b>text</b></a>"))
    assert root is not None and root.findtext("b") == "text"
    assert xml_body(httpx.Response(200, content=b"<a><b></a>")) is None


KINDS: dict[int, type[ProviderError]] = {1: Retryable, 5: Misconfigured, 7: Rejected}


@pytest.mark.parametrize(("code", "kind"), [(1, Retryable), (5, Misconfigured), (7, Rejected)])
def test_raise_for_code_raises_the_listed_kind_with_the_code(
    code: int, kind: type[ProviderError]
) -> None:
    answer = httpx.Response(200, headers={"Retry-After": "4"})
    with pytest.raises(ProviderError) as caught:
        raise_for_code(answer, code, f"refused ({code})", KINDS)
    assert type(caught.value) is kind
    assert (caught.value.code, caught.value.message) == (str(code), f"refused ({code})")
    if kind is Retryable:
        assert isinstance(caught.value, Retryable) and caught.value.retry_after == 4.0


@pytest.mark.parametrize("code", [2, None])
def test_raise_for_code_returns_for_a_code_it_does_not_list(code: int | None) -> None:
    raise_for_code(httpx.Response(200), code, "text", KINDS)  # raises nothing


def test_providers_skipped_for_context_never_read_it() -> None:
    """The dispatcher loads the client and user only for kinds outside CONTEXT_FREE_KINDS;
    a provider listed there that read OutgoingMessage.metadata would get an empty one."""
    import importlib
    import inspect

    from phonegate.providers.registry import CONTEXT_FREE_KINDS, PROVIDER_CLASSES

    assert {"webhook", "action"}.isdisjoint(CONTEXT_FREE_KINDS)
    for kind, target in PROVIDER_CLASSES.items():
        if kind in CONTEXT_FREE_KINDS:
            source = inspect.getsource(importlib.import_module(target.partition(":")[0]))
            assert ".metadata" not in source, kind
