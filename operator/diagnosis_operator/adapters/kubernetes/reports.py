"""A Diagnosis' saved report (``diagnosis.json`` of its report ConfigMap), read for serving.

The ConfigMap is the one ``status.reportRef`` names (written by the operator, owned
by the Diagnosis), so a name in a URL never reaches a ConfigMap the operator did not
write.  Blocking; the HTTP server runs it in a worker thread.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.adapters.kubernetes.errors import from_api_exception, from_os_error
from diagnosis_operator.api import DIAGNOSIS_PLURAL

REPORT_JSON_KEY = "diagnosis.json"
_NOT_FOUND = 404


class KubernetesReportSource:
    def __init__(self, *, api_client: client.ApiClient, request_timeout: float = 10.0) -> None:
        self._custom = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)
        self._timeout = request_timeout

    def report_json(self, *, namespace: str, name: str) -> str | None:
        """The saved result as JSON text; ``None`` for no such Diagnosis or no report yet."""
        what = f"get Diagnosis {namespace}/{name}"
        try:
            found: Any = self._custom.get_namespaced_custom_object(
                API_GROUP,
                API_VERSION,
                namespace,
                DIAGNOSIS_PLURAL,
                name,
                _request_timeout=self._timeout,
            )
            ref = ((found.get("status") or {}).get("reportRef") or {}).get("name")
            if not ref:
                return None
            what = f"get ConfigMap {namespace}/{ref}"
            config_map = self._core.read_namespaced_config_map(
                str(ref), namespace, _request_timeout=self._timeout
            )
        except client.ApiException as error:
            if error.status == _NOT_FOUND:
                return None
            raise from_api_exception(error, what=what) from error
        except OSError as error:
            raise from_os_error(error, what=what) from error
        text = (config_map.data or {}).get(REPORT_JSON_KEY)
        return str(text) if text is not None else None
