"""Users and their phone authenticators (auth0-api.md §3.5; ``web/management/users.py``,
``domain/users.py``, ``domain/enrollments.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from phonegate.domain.models import DATABASE_CONNECTION, Channel
from phonegate.domain.users import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from phonegate.web.management.schemas.common import (
    INCLUDE_TOTALS,
    Strict,
    omitted,
    one_of,
    page_query,
)

Connection = Annotated[str, one_of([DATABASE_CONNECTION])]


class Identity(Strict):
    connection: str
    user_id: str
    provider: str
    isSocial: bool


class User(Strict):
    user_id: str
    email: str = omitted(description="Absent for users of the passwordless sms connection.")
    email_verified: bool = omitted()
    phone_number: str = omitted(description="E.164; users of the sms connection.")
    phone_verified: bool = omitted()
    name: str
    nickname: str
    created_at: datetime
    updated_at: datetime
    identities: list[Identity]
    app_metadata: dict[str, Any]
    user_metadata: dict[str, Any]
    blocked: bool
    logins_count: int
    last_login: datetime = omitted()
    multifactor: list[Literal["guardian"]] = omitted(
        description="On GET, when the user has a confirmed phone."
    )


class UserCreate(BaseModel):
    """A user of the database connection; other fields are ignored."""

    connection: Connection
    email: str = Field(max_length=320)
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)
    email_verified: bool = omitted()
    name: str = omitted()
    nickname: str = omitted()
    blocked: bool = omitted()
    user_metadata: dict[str, Any] = omitted()
    app_metadata: dict[str, Any] = omitted()


class UserUpdate(Strict):
    """The fields to change. Metadata is merged one level deep; a null value removes a key."""

    email: str = omitted(max_length=320)
    password: str = omitted(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)
    name: str = omitted(min_length=1, max_length=255)
    nickname: str = omitted(min_length=1, max_length=255)
    blocked: bool = omitted()
    email_verified: bool = omitted()
    user_metadata: dict[str, Any] = omitted()
    app_metadata: dict[str, Any] = omitted()
    connection: Connection = omitted()
    verify_email: bool = omitted(description="Accepted for Auth0 compatibility; no effect.")
    verify_password: bool = omitted(description="Accepted for Auth0 compatibility; no effect.")


class ChannelMethod(Strict):
    id: str = Field(examples=["sms|dev_kXVq4drj3Mw6uCF5"])
    type: Channel


class PhoneMethod(Strict):
    id: str = Field(examples=["phone|dev_kXVq4drj3Mw6uCF5"])
    type: Literal["phone"]
    confirmed: bool
    name: str
    phone_number: str = Field(description="Masked.")
    preferred_authentication_method: Channel
    authentication_methods: list[ChannelMethod]
    created_at: datetime
    last_auth_at: datetime = omitted()


class RecoveryCodeMethod(Strict):
    id: str
    type: Literal["recovery-code"]
    confirmed: bool
    created_at: datetime


AuthenticationMethod = PhoneMethod | RecoveryCodeMethod


class AuthenticationMethodsPage(Strict):
    authenticators: list[AuthenticationMethod]
    start: int
    limit: int
    total: int


AuthenticationMethods = list[AuthenticationMethod] | AuthenticationMethodsPage


class Enrollment(Strict):
    id: str = Field(examples=["dev_kXVq4drj3Mw6uCF5"])
    status: Literal["pending", "confirmed"]
    type: Literal["sms"]
    name: str
    phone_number: str = Field(description="Masked.")
    auth_method: Channel
    enrolled_at: datetime | None
    last_auth: datetime | None


class RecoveryCode(Strict):
    recovery_code: str


AUTHENTICATION_METHODS_QUERY = [*page_query(50, 100), INCLUDE_TOTALS]
