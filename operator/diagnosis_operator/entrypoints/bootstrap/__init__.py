"""The composition root: the only place where adapters are built.

From settings, policies and Secrets, bootstrap builds the ports the services use:
the signal sources of a diagnosis (``signals``), the MySQL / Redis / traffic-policy
connections a policy names for enrichment and remediation (``connections``).  The
entry points call it; tests pass fakes in its place (``OperatorContext``).
"""
