"""Real services for integration tests: one pytest plugin module per component.

Each module starts the Debian binary on a free 127.0.0.1 port with a temp data
dir, waits until it is ready and stops it afterwards; ``ports`` holds the
shared process plumbing and attaches service logs to failing tests' reports.
"""
