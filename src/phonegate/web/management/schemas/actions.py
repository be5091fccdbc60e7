"""Actions for the two phone triggers (auth0-api.md §4.1, §4.3; ``web/management/actions.py``,
``domain/actions.py``). ``code`` names a Python callable, ``package.module:function``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from phonegate.domain.actions import (
    BINDING_REF_TYPES,
    MAX_CODE_CHARS,
    MAX_NAME_CHARS,
    MAX_SECRETS,
    RUNTIME,
    SECRET_NAME,
    TRIGGER_VERSION,
    TRIGGERS,
)
from phonegate.web.management.schemas.common import (
    BOOLEAN,
    TEXT,
    AnyObject,
    EmptyList,
    Strict,
    omitted,
    one_of,
    page_query,
    query,
)

TriggerId = Annotated[str, one_of(TRIGGERS)]
Runtime = Annotated[str, one_of([RUNTIME])]


class TriggerRef(Strict):
    id: TriggerId
    version: Annotated[str, one_of([TRIGGER_VERSION])]


class Trigger(TriggerRef):
    status: Literal["CURRENT"]
    runtimes: list[Runtime]
    default_runtime: Runtime
    compatible_triggers: EmptyList


class Triggers(Strict):
    triggers: list[Trigger]


class SecretName(Strict):
    name: str
    updated_at: datetime


class ActionVersion(Strict):
    """The deployed version (phonegate keeps only that one)."""

    id: str
    action_id: str
    code: str
    runtime: Runtime
    number: int
    deployed: Literal[True]
    status: Literal["built"]
    created_at: datetime
    updated_at: datetime


class Action(Strict):
    id: str
    name: str
    supported_triggers: list[TriggerRef]
    code: str = Field(description="The draft.")
    runtime: Runtime
    dependencies: EmptyList
    secrets: list[SecretName] = Field(description="Names only; values are write-only.")
    status: Literal["built"]
    deployed: bool
    all_changes_deployed: bool
    created_at: datetime
    updated_at: datetime
    built_at: datetime
    deployed_version: ActionVersion = omitted(description="Once deployed.")


class Paged(Strict):
    total: int
    page: int
    per_page: int


class ActionsPage(Paged):
    actions: list[Action]


class Binding(Strict):
    id: str
    trigger_id: TriggerId
    display_name: str
    action: Action
    created_at: datetime
    updated_at: datetime


class BindingsPage(Paged):
    bindings: list[Binding]


class Bindings(Strict):
    bindings: list[Binding]


class Secret(Strict):
    name: str = Field(pattern=SECRET_NAME.pattern)
    value: str = omitted(min_length=1, description="Leave out to keep the stored value.")


class TriggerChoice(Strict):
    id: TriggerId
    version: Annotated[str, one_of([TRIGGER_VERSION])] = omitted()


class ActionChange(Strict):
    """Edits the draft; what runs stays the deployed version until the next deploy."""

    name: str = omitted(min_length=1, max_length=MAX_NAME_CHARS)
    supported_triggers: list[TriggerChoice] = omitted(
        min_length=1, max_length=1, description="Cannot change."
    )
    code: str = omitted(max_length=MAX_CODE_CHARS, examples=["mypackage.sms:send"])
    runtime: Runtime = omitted()
    dependencies: EmptyList = omitted()
    secrets: list[Secret] = omitted(
        max_length=MAX_SECRETS, description="The secrets, exactly: those left out are removed."
    )


class ActionCreate(ActionChange):
    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    supported_triggers: list[TriggerChoice] = Field(min_length=1, max_length=1)
    code: str = Field(max_length=MAX_CODE_CHARS, examples=["mypackage.sms:send"])
    deploy: bool = omitted(description="Deploy at once.")


class BindingRef(Strict):
    type: Annotated[str, one_of(BINDING_REF_TYPES)]
    value: str


class BindingChoice(Strict):
    ref: BindingRef
    display_name: str = omitted()


class BindingsChange(Strict):
    bindings: list[BindingChoice] = Field(
        max_length=1, description="One deployed action, or [] to unbind."
    )


class DraftRun(Strict):
    payload: AnyObject = omitted(description="The event; default: a sample event.")


class DraftRunResult(Strict):
    status: Literal["sent", "dropped", "retry", "error"]
    result: Any = Field(description="What the action returned, made JSON-safe.")
    error: str | None
    duration_ms: float


class DraftRunAnswer(Strict):
    payload: DraftRunResult


ACTIONS_QUERY = [
    query("triggerId", TEXT, "Only actions of this trigger."),
    query("actionName", TEXT, "Only the action of this name."),
    query("deployed", BOOLEAN, "Only deployed (true) or undeployed (false) actions."),
    *page_query(20, 100),
]
BINDINGS_QUERY = page_query(20, 100)
FORCE_QUERY = [query("force", BOOLEAN, "true: delete a bound action and unbind it.")]
