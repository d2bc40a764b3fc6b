"""Benchmarks that print tables (vmemlab bench, bench-tui, bench-web, bench-site); never timed tests."""
