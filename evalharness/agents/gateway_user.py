"""What an agent whose model requests go through the model gateway shares with the others."""

from __future__ import annotations

import weakref
from typing import Any


class UsesGateway:
    """This process's model gateway, started on first use: one per process, since its sockets
    are local (a copy of the agent sent to a Ray node starts its own there). Closed when the
    agent goes. The class using it sets model, _api_key, _limiter, _gateway_factory, _gateway
    (None) and _lock."""

    def gateway(self) -> Any:
        with self._lock:
            if self._gateway is None:
                if self._gateway_factory is not None:
                    self._gateway = self._gateway_factory()
                else:
                    from evalharness.model.gateway import ModelGateway

                    self._gateway = ModelGateway(self.model, self._api_key, limiter=self._limiter)
                weakref.finalize(self, self._gateway.close)
            return self._gateway
