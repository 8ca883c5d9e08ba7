"""A Diagnosis' saved report (``diagnosis.json`` of its report ConfigMap), read for serving.

The ConfigMap is ``<diagnosis>-report`` (``report_config_map``, the name the
Diagnosis handler writes) and is served only when an owner reference says it
belongs to that Diagnosis: a name in a URL never reaches a ConfigMap the operator
did not write.  Only ``get`` on ConfigMaps is needed.  Blocking; the HTTP server
runs it in a worker thread.
"""

from __future__ import annotations

from kubernetes import client

from diagnosis_operator import API_GROUP
from diagnosis_operator.adapters.kubernetes.errors import from_api_exception, from_os_error
from diagnosis_operator.api import DIAGNOSIS_KIND, report_config_map

REPORT_JSON_KEY = "diagnosis.json"
_NOT_FOUND = 404


class KubernetesReportSource:
    def __init__(self, *, api_client: client.ApiClient, request_timeout: float = 10.0) -> None:
        self._core = client.CoreV1Api(api_client)
        self._timeout = request_timeout

    def report_json(self, *, namespace: str, name: str) -> str | None:
        """The saved result as JSON text; ``None`` for no such Diagnosis or no report yet."""
        what = f"get ConfigMap {namespace}/{report_config_map(name)}"
        try:
            config_map = self._core.read_namespaced_config_map(
                report_config_map(name), namespace, _request_timeout=self._timeout
            )
        except client.ApiException as error:
            if error.status == _NOT_FOUND:
                return None
            raise from_api_exception(error, what=what) from error
        except OSError as error:
            raise from_os_error(error, what=what) from error
        owners = (config_map.metadata and config_map.metadata.owner_references) or []
        if not any(
            owner.kind == DIAGNOSIS_KIND
            and owner.name == name
            and str(owner.api_version).startswith(f"{API_GROUP}/")
            for owner in owners
        ):
            return None
        text = (config_map.data or {}).get(REPORT_JSON_KEY)
        return str(text) if text is not None else None
