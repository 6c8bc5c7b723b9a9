"""Agents for the Ray executor tests; a module of its own so that Ray workers can import it."""

from __future__ import annotations

import os
import time
from pathlib import Path

from evalharness.agents.gold import GoldAgent


class StallOnceAgent(GoldAgent):
    """Gold, except that the first try at `victim` writes its worker's pid and stalls (to be killed)."""

    name = "gold"

    def __init__(self, victim: str, marker_dir: str):
        self.victim = victim
        self.marker = Path(marker_dir) / "victim.pid"

    def run(self, task, env):
        if task.instance_id == self.victim and not self.marker.exists():
            self.marker.write_text(str(os.getpid()))
            time.sleep(300)  # the test SIGKILLs this worker long before
        return super().run(task, env)
