"""The composition root: the only place where adapters are built.

From settings, policies and Secrets, bootstrap builds the ports the services use:
the signal sources of a diagnosis (``signals``), the MySQL / Redis / traffic-policy
connections a policy names for enrichment and remediation (``connections``), an
incident bundle offline (``offline``).  The entry points call it; tests pass fakes
in its place (``OperatorContext``).  Import the submodule you need: the offline path
must not pay for the Kubernetes, MySQL and Redis clients.
"""
