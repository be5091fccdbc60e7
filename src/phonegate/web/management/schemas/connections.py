"""Connections: the built-in database connection and the passwordless ``sms`` one
(``web/management/connections.py``, ``domain/connections.py``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from phonegate import otp
from phonegate.domain.connections import (
    DATABASE_STRATEGY,
    DEFAULT_LENGTH,
    DEFAULT_TIME_STEP,
    MAX_ENABLED_CLIENTS,
    SMS,
    TIME_STEP_BOUNDS,
)
from phonegate.web.management.schemas.common import (
    INCLUDE_TOTALS,
    TEXT,
    EmptyObject,
    Strict,
    integer,
    omitted,
    one_of,
    page_query,
    query,
)


class Totp(Strict):
    time_step: int = Field(description="The code's lifetime in seconds.")
    length: int


class ConnectionOptions(Strict):
    """Empty for the database connection; every field set for the sms connection."""

    disable_signup: bool = omitted()
    brute_force_protection: bool = omitted()
    totp: Totp = omitted()


class Connection(Strict):
    id: str = Field(examples=["con_0nUPwH1e8dnCGbvq"])
    name: str
    display_name: str
    strategy: Annotated[str, one_of([SMS, DATABASE_STRATEGY])]
    options: ConnectionOptions
    is_domain_connection: bool
    realms: list[str]
    metadata: EmptyObject
    enabled_clients: list[str] = omitted(
        description="Absent for the database connection, which every application may use."
    )


class ConnectionsWithTotals(Strict):
    connections: list[Connection]
    start: int
    limit: int
    total: int


class ConnectionsCheckpoint(Strict):
    connections: list[Connection]
    next: str = omitted(description="The id to ask from= next; absent on the last page.")


Connections = list[Connection] | ConnectionsWithTotals | ConnectionsCheckpoint


class TotpChange(Strict):
    time_step: int = omitted(
        ge=TIME_STEP_BOUNDS[0], le=TIME_STEP_BOUNDS[1], description=f"Default {DEFAULT_TIME_STEP}."
    )
    length: int = omitted(
        ge=otp.MIN_DIGITS, le=otp.MAX_DIGITS, description=f"Default {DEFAULT_LENGTH}."
    )


class OptionsChange(Strict):
    """Replaces the whole options object; what is left out takes its default."""

    disable_signup: bool = omitted(description="Default false.")
    brute_force_protection: bool = omitted(description="Default true.")
    totp: TotpChange = omitted()


class ConnectionChange(Strict):
    options: OptionsChange = omitted()
    enabled_clients: list[Annotated[str, Field(min_length=1)]] = omitted(
        max_length=MAX_ENABLED_CLIENTS
    )


class ConnectionCreate(ConnectionChange):
    name: str = Field(
        min_length=1,
        max_length=128,
        description="Letters, digits and dashes, not starting with a dash.",
    )
    strategy: Annotated[str, one_of([SMS])]


LIST_QUERY = [
    query(
        "strategy",
        {"type": "array", "items": TEXT},
        "Only these strategies (repeat the parameter).",
        explode=True,
    ),
    query("name", TEXT, "Only the connection of this name."),
    *page_query(50, 100),
    INCLUDE_TOTALS,
    query("from", TEXT, "Checkpoint paging: the id to start at."),
    query("take", integer(1, 100, 50), "Checkpoint paging: how many."),
]
