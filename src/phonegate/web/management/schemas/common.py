"""What the schema modules share: the strict base model, fields the server leaves out,
vocabularies taken from the domain's constants, and query parameters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema


class Strict(BaseModel):
    """A shape whose every field is listed: ``additionalProperties: false``."""

    model_config = ConfigDict(extra="forbid")


class AnyObject(BaseModel):
    """Any JSON object (a body that is read but whose content is ignored)."""

    model_config = ConfigDict(extra="allow")


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def omitted(**constraints: Any) -> Any:
    """A field that is left out, never null, when it has no value. (A JSON ``default: null``
    would contradict the field's type, so none is written.)"""
    return Field(default=None, json_schema_extra=_no_default, **constraints)


def one_of(values: Iterable[str]) -> WithJsonSchema:
    """``Annotated[str, one_of(...)]``: a string enum whose values are the domain's own."""
    return WithJsonSchema({"type": "string", "enum": list(values)})


# Auth0 answers with fields that phonegate always leaves empty.
EmptyList = Annotated[list[Any], Field(max_length=0)]
EmptyObject = Annotated[dict[str, Any], Field(max_length=0)]


def query(
    name: str, schema: dict[str, Any], description: str, *, explode: bool | None = None
) -> dict[str, Any]:
    """An optional query parameter (an OpenAPI Parameter Object)."""
    parameter: dict[str, Any] = {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }
    if explode is not None:
        parameter["explode"] = explode
    return parameter


def integer(low: int, high: int, default: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": low, "maximum": high}
    if default is not None:
        schema["default"] = default
    return schema


BOOLEAN: dict[str, Any] = {"type": "boolean"}
TEXT: dict[str, Any] = {"type": "string"}


def page_query(default_per_page: int, max_per_page: int) -> list[dict[str, Any]]:
    return [
        query("page", {"type": "integer", "minimum": 0, "default": 0}, "Page index, from 0."),
        query("per_page", integer(1, max_per_page, default_per_page), "Items per page."),
    ]


INCLUDE_TOTALS = query(
    "include_totals",
    BOOLEAN,
    "true: answer an object with the page and the totals instead of a bare array.",
)
