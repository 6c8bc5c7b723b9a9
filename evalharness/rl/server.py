"""`evalharness serve-envs`: the environments over the OpenEnv protocol (the `openenv-core` package,
the optional extra `evalharness[rl]`), for trainers on other machines.

OpenEnv's server (`create_app`) gives each WebSocket session (`/ws`: reset / step / state /
close messages) an environment of its own, made here by `OpenEnvSWE`, a wrapper of one
`SWEEnv` of the hub. Its stateless HTTP `/reset` and `/step` make and close an environment per
request, which a container episode cannot use; clients use the session (`EnvClient`).

- Token: every request and WebSocket handshake must carry the server's token, as a bearer
  token or as the password of basic auth, which OpenEnv's client sends when the URL holds it:
  `GenericEnvClient(base_url="http://rl:TOKEN@host:8000")`. Without it: 401 / handshake refused.
- Limit: at most `max_envs` sessions at once (OpenEnv answers CAPACITY_REACHED beyond).
- Reclamation: a session whose client disconnected is closed at once; one whose client went
  silent (a hung trainer, a dead network) is closed after `reap_timeout` seconds without a
  message, and its container removed with it. WebSocket pings (uvicorn) notice dead peers.
"""

from __future__ import annotations

import base64
import hmac
import threading
from typing import Any, Optional

from openenv.core.env_server import Action, Environment, Observation, State, create_app
from openenv.core.env_server.types import ConcurrencyConfig
from pydantic import Field
from starlette.websockets import WebSocketDisconnect

from evalharness.rl.types import Action as ToolAction


class SWEAction(Action):
    """One tool call of the built-in agent: tool `bash` / `str_replace_editor` / `submit`."""

    tool: str = Field(description="bash, str_replace_editor or submit")
    arguments: dict[str, Any] = Field(default_factory=dict)
    episode_id: Optional[str] = None


class SWEObservation(Observation):
    text: str = ""
    episode_id: str = ""
    instance_id: str = ""
    step: int = 0
    exit_code: Optional[int] = None
    tools: list[dict[str, Any]] = Field(default_factory=list)
    messages: list[dict[str, str]] = Field(default_factory=list)
    truncated: bool = False
    info: dict[str, Any] = Field(default_factory=dict)


class OpenEnvSWE(Environment):
    """OpenEnv's view of one SWEEnv; `hub` is any object with make() -> SWEEnv-like and `tasks`."""

    SUPPORTS_CONCURRENT_SESSIONS = True
    hub: Any = None  # set on the subclass `openenv_class` makes

    def __init__(self):
        super().__init__()
        self.env = self.hub.make()
        self._state = State()

    def reset(self, seed: Optional[int] = None, episode_id: Optional[str] = None, instance_id: Optional[str] = None,
              **kwargs: Any) -> SWEObservation:
        """`instance_id` names the task; without one, `seed` picks one of the served tasks."""
        if instance_id is None:
            ids = sorted(self.hub.tasks)
            instance_id = ids[(seed or 0) % len(ids)]
        obs = self.env.reset(instance_id)
        self._state = State(episode_id=obs.episode_id, step_count=0)
        return SWEObservation(text=obs.text, episode_id=obs.episode_id, instance_id=obs.instance_id,
                              tools=obs.tools, messages=obs.messages)

    def step(self, action: SWEAction, timeout_s: Optional[float] = None, **kwargs: Any) -> SWEObservation:
        result = self.env.step(ToolAction.parse({"tool": action.tool, "arguments": action.arguments,
                                                 "episode_id": action.episode_id}))
        self._state.step_count += 1
        obs = result.observation
        return SWEObservation(text=obs.text, episode_id=obs.episode_id, instance_id=obs.instance_id, step=obs.step,
                              exit_code=obs.exit_code, done=result.done, reward=result.reward,
                              truncated=result.truncated, info=result.info)

    @property
    def state(self) -> State:
        return self._state

    def close(self) -> None:
        self.env.close()


def openenv_class(hub: Any) -> type[OpenEnvSWE]:
    """A session class bound to `hub` (OpenEnv makes one per session from a class, no arguments)."""
    return type("EvalharnessSWEEnv", (OpenEnvSWE,), {"hub": hub})


class TokenGate:
    """ASGI middleware: requests and WebSocket handshakes without the token are refused."""

    def __init__(self, app, token: str):
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket") and not self._allowed(dict(scope.get("headers") or [])):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await send({"type": "http.response.start", "status": 401,
                        "headers": [(b"content-type", b"text/plain"), (b"www-authenticate", b"Bearer")]})
            await send({"type": "http.response.body", "body": b"missing or wrong token\n"})
            return
        try:
            await self.app(scope, receive, send)
        except WebSocketDisconnect:  # OpenEnv closes a socket its client closed already: nothing is wrong
            if scope["type"] != "websocket":
                raise

    def _allowed(self, headers: dict[bytes, bytes]) -> bool:
        auth = headers.get(b"authorization", b"").decode("latin-1")
        kind, _, value = auth.partition(" ")
        if kind.lower() == "basic":
            try:
                value = base64.b64decode(value).decode().partition(":")[2]
            except ValueError:
                return False
        elif kind.lower() != "bearer":
            return False
        return hmac.compare_digest(value.encode(), self.token.encode())


def make_app(hub: Any, *, token: str, max_envs: int, reap_timeout: float):
    """The ASGI app: OpenEnv's routes for the hub's environments, behind the token."""
    app = create_app(openenv_class(hub), SWEAction, SWEObservation, env_name="evalharness",
                     concurrency_config=ConcurrencyConfig(max_concurrent_envs=max_envs, session_timeout=reap_timeout))
    return TokenGate(app, token)


class EnvServer:
    """uvicorn serving `make_app` on host:port, in this thread (`serve`) or a background one (`start`)."""

    def __init__(self, hub: Any, *, token: str, host: str = "127.0.0.1", port: int = 8000, max_envs: int = 8,
                 reap_timeout: float = 300.0, ping_interval: float = 20.0):
        import uvicorn

        app = make_app(hub, token=token, max_envs=max_envs, reap_timeout=reap_timeout)
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                                    ws_ping_interval=ping_interval, ws_ping_timeout=ping_interval,
                                                    lifespan="on"))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server.servers[0].sockets[0].getsockname()[1]

    def serve(self) -> None:
        self.server.run()

    def start(self, timeout: float = 30.0) -> "EnvServer":
        import time

        self._thread = threading.Thread(target=self.server.run, name="serve-envs", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the environment server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(30)
