"""The one sandboxed python-liquid environment (message texts, webhook bodies).

It has no loader, so ``{% include %}``/``{% render %}`` cannot read files, and output, loop,
range and context sizes are bounded, so a template saved through the API cannot make the
server spend seconds or hundreds of MB rendering it. A ``json`` filter is added for bodies
that are JSON documents.
"""

from __future__ import annotations

import json
from typing import Any

from liquid import Environment, StrictDefaultUndefined
from liquid.builtin.expressions.primitive import RangeLiteral
from liquid.exceptions import ResourceLimitError

MAX_OUTPUT_CHARS = 1600  # ten SMS segments; a voice script longer than this is a mistake
MAX_RANGE = 1000
_make_range = RangeLiteral._make_range


def _bounded_range(self: RangeLiteral, start: Any, stop: Any) -> range:
    # python-liquid bounds loops, not ranges, and a filter such as `join` materialises a
    # range in full: `(1..5000000) | join` would spend seconds and hundreds of MB. Its
    # bounds may come from variables, so the check has to happen at evaluation. phonegate
    # is the only user of python-liquid in its process, so the bound is set here, once.
    made = _make_range(self, start, stop)
    if len(made) > MAX_RANGE:
        raise ResourceLimitError(
            f"range of {len(made)} items is larger than {MAX_RANGE}", token=self.token
        )
    return made


RangeLiteral._make_range = _bounded_range  # type: ignore[method-assign]


def _json_filter(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


class SandboxedEnvironment(Environment):
    output_stream_limit = MAX_OUTPUT_CHARS * 4
    loop_iteration_limit = 1000
    context_depth_limit = 10
    local_namespace_limit = 10_000


def _as_is(value: object) -> str:
    return "" if value is None else str(value)


def sandboxed_environment(*, strict: bool = False, plain_text: bool = False) -> Environment:
    """``strict`` makes an undefined variable an error (``default`` still works): what a
    template is checked with when it is saved, so a typo is reported, not sent.

    ``plain_text`` is for texts that are not HTML (SMS, speech): there Auth0's default
    templates' ``| escape`` would turn "AT&T" into "AT&amp;T" on the user's phone, so the
    escaping filters pass values through unchanged.
    """
    env = (
        SandboxedEnvironment(undefined=StrictDefaultUndefined) if strict else SandboxedEnvironment()
    )
    env.filters["json"] = _json_filter
    if plain_text:
        env.filters["escape"] = _as_is
        env.filters["escape_once"] = _as_is
    return env
