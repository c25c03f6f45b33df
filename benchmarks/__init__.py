"""Benchmarks comparing commerce_kit with its peers; run with ``nox -s bench``."""
