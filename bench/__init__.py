"""Benchmarks: printed figures, never timed assertions in the test suite."""
