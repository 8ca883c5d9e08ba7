"""Deterministic incident-bundle generators (see README.md and generate.py)."""
