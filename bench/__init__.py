"""Benchmarks that print how jcbot's layers compare with the raw limits of what they stand on.

Run with `make bench` (or `python -m bench`); not part of the test suite, except a tiny
run that keeps them from rotting.
"""
