"""The wire APIs the gateway relays, by name (`APIS`) and by route (which API a request
speaks). Adding an API is a module beside `openai` and `anthropic` and a name here."""

from __future__ import annotations

from evalharness.model.gateway.anthropic import _Anthropic
from evalharness.model.gateway.openai import _OpenAI
from evalharness.model.gateway.protocol import _Protocol

OPENAI, ANTHROPIC = _OpenAI(), _Anthropic()
_PROTOCOLS: dict[str, _Protocol] = {p.name: p for p in (OPENAI, ANTHROPIC)}
_BY_ROUTE: dict[str, _Protocol] = {route: p for p in _PROTOCOLS.values() for route in p.routes}
APIS: tuple[str, ...] = tuple(_PROTOCOLS)  # the wire APIs relayed: chat completions, Anthropic Messages
