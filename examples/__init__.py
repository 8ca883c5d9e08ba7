"""Runnable examples; ``examples.incidents`` holds the incident-bundle generators."""
