"""Benchmarks: each prints its figures and a ratio against a baseline measured in the same run.

Run one from the checkout root as ``python -m bench.NAME`` (``make bench`` runs them all);
docs/performance.md holds the figures and what each compares against.
"""
