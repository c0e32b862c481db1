"""The Kubernetes provider: grow the workspace's PersistentVolumeClaim (JupyterHub on Kubernetes).

Growing is a JSON merge patch of ``spec.resources.requests.storage`` through the official
``kubernetes`` client; the provider then follows the claim's conditions (``Resizing``,
``FileSystemResizePending``) and ``status.capacity.storage``, and is done when ``statvfs`` of the
workspace shows the new size (the kubelet grows the file system online). The storage class must
allow volume expansion.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from traitlets import Float, Unicode, default

from .base import GiB, Progress, VolumeError, VolumeProvider, VolumeState, statvfs_size

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
RBAC_HINT = (
    ": give the pod's service account get and patch on persistentvolumeclaims "
    "(deploy/jupyterhub/k8s-storage-rbac.yaml has the Role and RoleBinding)."
)
_UNITS = {
    "": 1,
    "k": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
    "P": 1000**5,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
    "Pi": 1024**5,
}
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([kMGTP]i?|)$")


def parse_quantity(value: str) -> int:
    """A Kubernetes storage quantity ('10Gi', '500M', '1073741824') in bytes."""
    m = _QUANTITY.match(str(value).strip())
    if not m:
        raise VolumeError(f"Cannot read the storage quantity {str(value)[:40]!r}.")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def _status_message(e: Any) -> str:
    """The ``message`` of the API server's Status answer, or ''."""
    try:
        return str(json.loads(e.body or "{}").get("message", ""))
    except (TypeError, ValueError, AttributeError):
        return ""


class KubernetesVolumeProvider(VolumeProvider):
    """The workspace's PVC, grown by patching its storage request."""

    name = "kubernetes"

    pvc_name = Unicode(
        config=True,
        help="The workspace's PersistentVolumeClaim (KubeSpawner: claim-{username}). Default: "
        "$MA_K8S_PVC_NAME (deploy/jupyterhub/values.yaml sets it from the pod's spawner).",
    )
    namespace = Unicode(
        config=True,
        help="Its namespace. Default: $MA_K8S_NAMESPACE, else the pod's service-account "
        "namespace, else 'default'.",
    )

    @default("pvc_name")
    def _default_pvc_name(self) -> str:
        return os.environ.get("MA_K8S_PVC_NAME", "")

    @default("namespace")
    def _default_namespace(self) -> str:
        return os.environ.get("MA_K8S_NAMESPACE", "")

    api_url = Unicode(
        "",
        config=True,
        help="API server URL. Default: in-cluster configuration, else ~/.kube/config.",
    )
    token_file = Unicode(
        "",
        config=True,
        help="Bearer token file for api_url. Default: the pod's service-account token.",
    )
    resize_timeout = Float(
        600.0, config=True, help="Seconds to wait for the new size. Default: 600."
    )
    poll_seconds = Float(2.0, config=True, help="Seconds between status checks. Default: 2.")

    _api: Any = None

    def _core(self) -> Any:
        if self._api is not None:
            return self._api
        from kubernetes import client, config

        if self.api_url:
            conf = client.Configuration()
            conf.host = self.api_url.rstrip("/")
            token_path = Path(self.token_file) if self.token_file else SA_DIR / "token"
            if token_path.exists():
                conf.api_key = {"authorization": "Bearer " + token_path.read_text().strip()}
            if (SA_DIR / "ca.crt").exists() and not self.token_file:
                conf.ssl_ca_cert = str(SA_DIR / "ca.crt")
            api_client = client.ApiClient(conf)
        else:
            try:
                config.load_incluster_config()
            except config.ConfigException:
                try:
                    config.load_kube_config()
                except Exception as e:
                    raise VolumeError(f"No Kubernetes configuration: {e}") from None
            api_client = client.ApiClient()
        self._api = (client.CoreV1Api(api_client), client.StorageV1Api(api_client))
        return self._api

    def _namespace(self) -> str:
        if self.namespace:
            return self.namespace
        try:
            return (SA_DIR / "namespace").read_text().strip()
        except OSError:
            return "default"

    def _read(self) -> Any:
        from kubernetes.client.exceptions import ApiException

        core, _ = self._core()
        try:
            return core.read_namespaced_persistent_volume_claim(self.pvc_name, self._namespace())
        except ApiException as e:
            raise VolumeError(
                f"Cannot read the workspace claim {self._namespace()}/{self.pvc_name}: "
                f"{e.status} {e.reason}" + (RBAC_HINT if e.status == 403 else "")
            ) from None
        except Exception as e:
            raise VolumeError(f"The Kubernetes API did not answer: {type(e).__name__}") from None

    def state(self) -> VolumeState:
        """Expandable when the claim is bound and its storage class allows expansion."""
        if not self.pvc_name:
            return VolumeState(False, "c.KubernetesVolumeProvider.pvc_name is not set.")
        try:
            pvc = self._read()
        except VolumeError as e:
            return VolumeState(False, str(e))
        status = pvc.status
        if status is None or status.phase != "Bound":
            return VolumeState(False, f"The claim {self.pvc_name} is not bound.")
        capacity = parse_quantity((status.capacity or {}).get("storage", "0")) / GiB
        sc_name = pvc.spec.storage_class_name
        if sc_name:
            from kubernetes.client.exceptions import ApiException

            _, storage = self._core()
            try:
                sc = storage.read_storage_class(sc_name)
            except ApiException as e:
                if e.status == 403:
                    # Storage classes are cluster-wide; k8s-storage-rbac.yaml grants only the
                    # claim. The API server checks the class when the claim is patched.
                    return VolumeState(True, "", capacity)
                return VolumeState(False, f"Cannot read storage class {sc_name}: {e.status}.")
            if not sc.allow_volume_expansion:
                return VolumeState(
                    False,
                    f"The storage class {sc_name} does not allow volume expansion.",
                    capacity,
                )
        return VolumeState(True, "", capacity)

    def expand(self, new_total_gb: float, progress: Progress) -> None:
        """Merge-patch the claim's request, then follow its conditions, capacity and statvfs."""
        from kubernetes.client.exceptions import ApiException

        core, _ = self._core()
        before, _ = statvfs_size(self.workspace)
        new_bytes = int(new_total_gb * GiB)
        requested = f"{int(new_total_gb)}Gi" if new_total_gb == int(new_total_gb) else new_bytes
        patch = {"spec": {"resources": {"requests": {"storage": str(requested)}}}}
        progress("Expanding", f"Requesting {requested} for claim {self.pvc_name}")
        try:
            core.patch_namespaced_persistent_volume_claim(
                self.pvc_name,
                self._namespace(),
                patch,
                _content_type="application/merge-patch+json",
            )
        except ApiException as e:
            message = _status_message(e)
            if e.status == 403 and "resize" in message:
                # The PersistentVolumeClaimResize admission plugin: the class cannot grow.
                raise VolumeError(
                    f"The storage class of claim {self._namespace()}/{self.pvc_name} does not "
                    f"allow volume expansion (Kubernetes: {message[:200]}). Use a class with "
                    "allowVolumeExpansion: true (deploy/jupyterhub/k8s-storage-rbac.yaml)."
                ) from None
            if e.status == 403:
                raise VolumeError(
                    f"Kubernetes forbids this pod to patch its claim "
                    f"{self._namespace()}/{self.pvc_name} (403 Forbidden)" + RBAC_HINT
                ) from None
            raise VolumeError(
                f"Kubernetes refused the resize: {e.status} {e.reason}"
                + (f": {str(e.body)[:200]}" if e.body else "")
            ) from None
        deadline = time.monotonic() + self.resize_timeout
        grown_fs = before + (new_bytes - before) * 0.9
        while True:
            pvc = self._read()
            conditions = [c.type for c in (pvc.status.conditions or [])]
            capacity = parse_quantity((pvc.status.capacity or {}).get("storage", "0"))
            total, _ = statvfs_size(self.workspace)
            if capacity >= new_bytes and not conditions and total >= min(grown_fs, new_bytes):
                return
            if "FileSystemResizePending" in conditions:
                progress("Expanding", "FileSystemResizePending: the node grows the file system")
            elif "Resizing" in conditions:
                progress("Expanding", "Resizing: the volume is being grown")
            else:
                progress("Expanding", "Waiting for the new size to show in the workspace")
            if time.monotonic() > deadline:
                raise VolumeError(
                    f"The claim did not reach {requested} within {self.resize_timeout:g} s "
                    f"(capacity {capacity / GiB:.1f} GB, conditions {conditions or 'none'})."
                )
            time.sleep(self.poll_seconds)
