"""Build scripts for the shipped data, run from the repository root (not installed):
``python -m tools.build_scopes > scanner/data/scopes.csv`` and ``python -m tools.generate_demo``."""
