"""evalharness: run coding agents on SWE-bench-style tasks in Docker and grade them."""

__version__ = "0.1.0"
