"""Benchmarks: `python -m benchmarks.run` (or `make bench`); see benchmarks/run.py."""
