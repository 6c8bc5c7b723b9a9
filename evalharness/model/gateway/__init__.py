"""The model gateway: how a CLI coding agent inside a task container reaches the model.

CLI agents (Qwen Code, mini-swe-agent, Claude Code) run *inside* the task container, which
has no network. The harness opens one `GatewaySession` per instance: an HTTP/1.1 server on a
Unix socket in a directory of its own, which the harness bind-mounts into the container at
`CONTAINER_DIR`. A tiny forwarder in the container (`forward.py`, stdlib only)
listens on 127.0.0.1:PORT and pipes each TCP connection to that socket, so the agent is
configured with an ordinary `OPENAI_BASE_URL=http://127.0.0.1:PORT/v1` (or
`ANTHROPIC_BASE_URL=http://127.0.0.1:PORT`). The gateway holds the real API key and sends
the requests on to the model's endpoint.

Two wire APIs are relayed (`APIS`), each by a small adapter (`_Protocol`): OpenAI chat
completions (`/v1/chat/completions`, upstream `ModelConfig.base_url`) and Anthropic Messages
(`/v1/messages`, upstream `ModelConfig.anthropic_base_url`, e.g. DashScope's
Anthropic-compatible endpoint). What they share is one code path: the token check, the
limiter, retries, the relay of whole answers and SSE streams, the counters, the record. What
differs is in the adapter: the route and upstream URL, the headers, how the registry's model
and sampling go into the body, and how an answer, its usage, a stream's events and a
request's history are read.

Why a Unix socket and not a Docker network:
- the container keeps `network=none`: no IP stack beyond loopback, no route anywhere, nothing
  to firewall, no DNS, so a task's code cannot reach the internet or the host's services;
- the socket is the instance: which container talks is known from which socket it used
  (no source addresses to map, no shared port), and closing the session cuts it off;
- it works the same on every node (local threads, Ray workers): no bridge, no iptables, no
  port allocation; nothing to clean up but a folder (a scratch folder: one a killed process
  left is removed by the next gateway).

The container never sees the key: it gets a per-session token (`GatewaySession.token`),
checked on every request (as `Authorization: Bearer` or `x-api-key`, the two ways SDKs send
a key); the real key is sent upstream only, registered with `evalharness.core.redact`, and
scrubbed from whatever goes back (bodies, SSE events, errors).

What the gateway adds to each request, so a CLI agent is measured like the built-in one:
- the registry's model id and sampling (`ModelConfig.request_params()`, applied exactly as
  `LLMClient` applies it, `llm.apply_request_params`; on the Anthropic API its own fields:
  temperature, top_p, top_k); a client's own max_tokens is kept;
- the run's back-pressure (`limiter.slot()` around each upstream attempt) and the same
  retry policy as `LLMClient` (`llm.RetryPolicy`); a stream is retried only until its first
  event reached the client;
- a per-instance cost limit (HTTP 402 once spent), usage and cost counters (`GatewayUsage`),
  the trajectory (`events()`, the format of `evalharness.core.trajectory`, the same for both
  APIs) and a request log, all updated before the answer's last bytes go out (a client that
  has its answer finds it counted).

Threads: one listener thread per session and one per client connection (daemons; CLI agents
keep a few keep-alive connections each); all sessions share one pooled `httpx.Client`.

The package, one module per part, each importing only those above it:
- `wire`: the HTTP library, the records of an answer (`_Message`, `_Outcome`, `_Failure`)
  and the small helpers for error bodies and message text, shared by all;
- `usage`: token usage read from each API's answers and stream events;
- `tokens`: the token ids and logprobs a vLLM or SGLang server returns when asked
  (`TOKEN_ID_FIELDS`, the request fields of each), recorded per turn for trainers;
- `protocol`: what a wire API supplies (`_Protocol`) and the base of its stream reader;
- `openai`, `anthropic`: the two wire APIs, each with its stream reader; `apis`: them by
  name and by route;
- `relay`: writing the answer to the client, whole or as a stream relayed event by event;
- `server`: the HTTP handler on a session's connections, and the socket's binding;
- `session`: `GatewaySession`, one instance's socket, token, counters and records;
- `upstream`: `ModelGateway`, the model shared by the sessions, and each request's way
  upstream (key, pool, limiter, retries);
- `forward`: the forwarder run in the container (a script: its text is `FORWARDER_SOURCE`).
"""

from evalharness.model.gateway.apis import APIS
from evalharness.model.gateway.server import CONTAINER_DIR, FORWARDER_SOURCE, MAX_BODY_BYTES, SOCKET_NAME
from evalharness.model.gateway.session import GatewaySession, GatewayUsage
from evalharness.model.gateway.upstream import ModelGateway
from evalharness.model.gateway.wire import httpx

__all__ = ["APIS", "CONTAINER_DIR", "FORWARDER_SOURCE", "MAX_BODY_BYTES", "SOCKET_NAME", "GatewaySession",
           "GatewayUsage", "ModelGateway", "httpx"]
