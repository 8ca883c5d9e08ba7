"""loki."""
