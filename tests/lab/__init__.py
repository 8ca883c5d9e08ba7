"""The lab: a small real stack on loopback, faults injected into it, recordings of it.

``stack`` starts MariaDB, Redis, nginx, three backend apps, their exporters,
Prometheus, Alertmanager, the Loki test server and a log shipper; ``fault``
injects one trouble at a time (``python -m tests.lab.fault NAME``); ``scenarios``
records each into an incident bundle.  See docs/lab.md.
"""
