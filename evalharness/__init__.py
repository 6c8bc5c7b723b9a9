"""evalharness: run coding agents on SWE-bench-style tasks in Docker and grade them."""

from evalharness import _compat

__version__ = "0.1.0"

_compat.install()  # `evalharness.datasets` and the other names from before the packages
