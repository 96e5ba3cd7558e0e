"""Benchmarks that print numbers against their floors (see each script's docstring)."""
