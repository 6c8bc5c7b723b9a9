"""Executors: where the instances of a run execute. Add one by implementing `Executor` (base.py).

`LocalExecutor` (default) runs them as threads of this process; `RayExecutor` runs each as
a Ray task on a cluster node that has Docker. Either way the driver alone writes results.
"""

from evalharness.run.executors.base import Executor, Finished
from evalharness.run.executors.local import LocalExecutor

__all__ = ["Executor", "Finished", "LocalExecutor"]
