"""One build per image across the nodes of a Ray cluster, and the tally that proves it.

Two nodes that miss the same layer in the registry at once would both build it. The driver
starts one `BuildClaims` actor per run (on its own node, so it lives as long as the run);
a node's ImageBuilder claims a layer before building it (registry.SharedBuilds): the first
claimer builds and pushes, the others wait for the push and pull. A claim is renewed while
its build runs, so a claimer that dies (its worker, its node) frees it within `LEASE` seconds.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

LEASE = 60.0  # seconds an unrenewed claim is held
RENEW = 10.0  # seconds between a building claimer's renewals


@dataclass
class _Claim:
    node: str
    renewed: float = field(default_factory=time.monotonic)


class BuildClaims:
    """The Ray actor (driver-side): who builds what, and every node's builds and pulls."""

    def __init__(self) -> None:
        self.claims: dict[str, _Claim] = {}
        self.ready: set[str] = set()
        self.built: dict[str, list[str]] = defaultdict(list)  # node -> tags built there (and pushed or not)
        self.pulls: dict[str, list[str]] = defaultdict(list)  # node -> tags pulled from the registry

    def claim(self, tag: str, node: str) -> str:
        if tag in self.ready:
            return "ready"
        held = self.claims.get(tag)
        if held is not None and time.monotonic() - held.renewed < LEASE:
            return "wait"  # on another node, or in another worker process of this one
        self.claims[tag] = _Claim(node)
        return "build"

    def renew(self, tag: str, node: str) -> None:
        held = self.claims.get(tag)
        if held is not None and held.node == node:
            held.renewed = time.monotonic()

    def finish(self, tag: str, node: str, pushed: bool, built: bool) -> None:
        if built:
            self.built[node].append(tag)
        if pushed:
            self.ready.add(tag)
        held = self.claims.get(tag)
        if built and held is not None and held.node == node:
            del self.claims[tag]

    def pulled(self, tag: str, node: str) -> None:
        self.pulls[node].append(tag)

    def tally(self) -> dict[str, dict[str, list[str]]]:
        nodes = sorted(set(self.built) | set(self.pulls))
        return {n: {"built": sorted(self.built.get(n, [])), "pulled": sorted(self.pulls.get(n, []))} for n in nodes}


class ClaimsClient:
    """registry.SharedBuilds for one worker process: the actor's calls, and renewals while building.

    `node` names the claimer's node. Only the process the actor said "build" to finishes a
    claim, so two worker processes of one node do not both build (ImageBuilder's lock is per
    process).
    """

    def __init__(self, actor, node: str):
        self.actor = actor
        self.node = node
        self._renewing: dict[str, threading.Event] = {}

    def _get(self, ref):
        import ray

        return ray.get(ref, timeout=60)

    def claim(self, tag: str) -> str:
        verdict = self._get(self.actor.claim.remote(tag, self.node))
        if verdict == "build":
            stop = self._renewing[tag] = threading.Event()
            threading.Thread(target=self._renew, args=(tag, stop), daemon=True, name=f"claim {tag}").start()
        return verdict

    def _renew(self, tag: str, stop: threading.Event) -> None:
        while not stop.wait(RENEW):
            try:
                self._get(self.actor.renew.remote(tag, self.node))
            except Exception:  # the driver is gone: the run is over anyway
                return

    def finish(self, tag: str, pushed: bool) -> None:
        stop = self._renewing.pop(tag, None)
        if stop is not None:
            stop.set()
        self._get(self.actor.finish.remote(tag, self.node, pushed, stop is not None))

    def pulled(self, tag: str) -> None:
        self._get(self.actor.pulled.remote(tag, self.node))
