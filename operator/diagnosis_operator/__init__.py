"""diagnosis-operator: incident diagnosis and guarded self-healing for Kubernetes.

The package flows one way: collect -> detect -> correlate -> plan -> guard ->
execute -> verify -> status.  ``models`` holds pure data, ``core`` the pure
functions over it, ``adapters`` the edges that talk to the outside world,
``service`` joins them, and ``handlers`` are the thin kopf entry points.
"""

__version__ = "0.1.0"
API_GROUP = "diagnosis.dev"
API_VERSION = "v1alpha1"
