"""Benchmarks: `python3 tasks.py bench [NAME...]` runs benchmarks/bench_<NAME>.py (all by default)."""
