"""Benchmarks that print figures (`python -m benchmarks.<name>`); never part of the test suite."""
