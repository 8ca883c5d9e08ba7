"""Joins the pure core and the adapters: collect, pipeline, execute, report."""
