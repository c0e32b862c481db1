"""Online growth of the workspace disk: a loop XFS volume, and a Kubernetes PVC."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from ma_notebook.storage import system
from ma_notebook.storage.volumes import GiB


async def wait_task(api: Any, task_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        _, task = await api(f"tasks/{task_id}", params={"wait": "5"})
        if task["state"] in ("succeeded", "failed", "cancelled"):
            return task
        assert time.monotonic() < deadline, task
        await asyncio.sleep(0.1)


def total(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_blocks * st.f_frsize


class TestLocalVolume:
    @pytest.fixture
    def ma_config(self, loop_workspace):  # type: ignore[no-untyped-def]
        workspace, _ = loop_workspace
        return {"MaNotebookApp": {"workspace_dir": str(workspace)}}

    async def test_local_volume_grows_by_a_step_online(self, api, loop_workspace):
        workspace, _ = loop_workspace
        (workspace / "keep.txt").write_text("still here")
        status, vol = await api("storage/volume")
        assert status == 200, vol
        assert vol["type"] == "local" and vol["expandable"] is True, vol
        assert vol["capacity_gb"] == 1 and vol["max_step_gb"] == 100 and vol["max_total_gb"] == 4096
        before = total(workspace)
        assert vol["total_bytes"] == before

        status, task = await api("storage/volume/expand", method="POST", body={"increase_gb": 1})
        assert status == 202, task
        assert task["kind"] == "storage-expand"
        task = await wait_task(api, task["id"])
        assert task["state"] == "succeeded", task
        after = total(workspace)
        assert after - before > 0.9 * GiB, (before, after)
        assert (workspace / "keep.txt").read_text() == "still here"
        status, vol = await api("storage/volume")
        assert vol["capacity_gb"] == 2 and vol["total_bytes"] == after and vol["status"] == "ready"
        _, events = await api("events", params={"type": "UpdateStorageSize"})
        assert "grew by 1 GB to 2 GB" in events["events"][0]["message"]

    @pytest.mark.parametrize(
        ("increase", "reason"),
        [(0, "not_positive"), (-3, "not_positive"), (101, "step_too_large")],
    )
    async def test_refused_steps(self, api, increase, reason):
        status, err = await api(
            "storage/volume/expand", method="POST", body={"increase_gb": increase}
        )
        assert status == 400 and err["reason"] == reason, err
        status, err = await api("storage/volume/expand", method="POST", body={"increase_gb": "5"})
        assert status == 400, err


async def test_a_plain_folder_is_not_expandable(api, jp_root_dir):
    status, vol = await api("storage/volume")
    assert status == 200
    assert vol["expandable"] is False and "init-local-volume" in vol["reason"]
    status, err = await api("storage/volume/expand", method="POST", body={"increase_gb": 1})
    assert status == 409 and err["reason"] == "not_expandable", err


# ---------------------------------------------------------------- Kubernetes

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "jupyterhub"
NAMESPACE = "jhub"
USER_SERVER = "ma-user"  # KubeSpawner's {user_server} for user ma-user's default server


class Deployment:
    """What deploy/jupyterhub gives a user's pod, read from values.yaml and the RBAC file."""

    def __init__(self) -> None:
        values = yaml.safe_load((DEPLOY / "values.yaml").read_text())
        objects = list(yaml.safe_load_all((DEPLOY / "k8s-storage-rbac.yaml").read_text()))
        single = values["singleuser"]
        storage = single["storage"]
        self.pvc_name = storage["dynamic"]["pvcNameTemplate"].format(user_server=USER_SERVER)
        self.env = {
            k: v.format(user_server=USER_SERVER)
            for k, v in single["extraEnv"].items()
            if isinstance(v, str) and k.startswith("MA_K8S_")
        }
        self.storage_class_name = storage["dynamic"]["storageClass"]
        self.capacity = storage["capacity"]
        self.account = single["serviceAccountName"]
        (self.storage_class,) = [o for o in objects if o["kind"] == "StorageClass"]
        roles = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Role"}
        # The rules of every Role bound (in the pod's namespace) to the pods' service account.
        self.rules = [
            rule
            for b in objects
            if b["kind"] == "RoleBinding"
            and any(
                s["kind"] == "ServiceAccount"
                and s["name"] == self.account
                and s.get("namespace", NAMESPACE) == NAMESPACE
                for s in b["subjects"]
            )
            for rule in roles[b["roleRef"]["name"]]["rules"]
        ]
        self.cluster_rules: list[dict] = []  # no ClusterRole is part of the deployment

    def allows(self, group: str, resource: str, verb: str, namespaced: bool) -> bool:
        """Whether RBAC lets the service account do ``verb`` on ``resource``."""
        rules = self.rules + self.cluster_rules if namespaced else self.cluster_rules
        return any(
            group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"]
            for r in rules
        )


class FakeKubernetes:
    """A loopback API server with the PVC and StorageClass endpoints' real shapes.

    Its objects are the deployment's (the claim KubeSpawner creates from values.yaml, the
    StorageClass of k8s-storage-rbac.yaml) and it authorizes every request with the RBAC rules
    that file binds to the pods' service account, answering 403 as the API server does. Like
    the kubelet, it grows the loop XFS volume behind the claim once the request is patched,
    passing through the ``Resizing`` and ``FileSystemResizePending`` conditions.
    """

    def __init__(self, workspace: Path, image: Path, capacity_gi: int) -> None:
        self.workspace, self.image = workspace, image
        self.deployment = Deployment()
        self.patches: list[tuple[str, dict]] = []
        self.auth: list[str] = []
        self.pvc: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {
                "name": self.deployment.pvc_name,
                "namespace": NAMESPACE,
                "uid": "6a0e4c6e-0c1d-4b8e-9d6c-1e2f3a4b5c6d",
                "resourceVersion": "1001",
                "creationTimestamp": "2026-11-30T10:00:00Z",
            },
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": f"{capacity_gi}Gi"}},
                "storageClassName": self.deployment.storage_class_name,
                "volumeMode": "Filesystem",
                "volumeName": "pvc-6a0e4c6e",
            },
            "status": {
                "phase": "Bound",
                "accessModes": ["ReadWriteOnce"],
                "capacity": {"storage": f"{capacity_gi}Gi"},
            },
        }
        self.storage_class = dict(self.deployment.storage_class)
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def grant_storage_class_read(self) -> None:
        """What an admin adds with a ClusterRole: reading storage classes."""
        self.deployment.cluster_rules.append(
            {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": ["get"]}
        )

    def revoke(self, verb: str) -> None:
        """Take ``verb`` on claims away from the service account (a missing RBAC Role)."""
        self.deployment.rules = [
            {**r, "verbs": [v for v in r["verbs"] if v != verb]} for r in self.deployment.rules
        ]

    def _resize(self, size: str) -> None:
        from ma_notebook.storage.volumes.kubernetes import parse_quantity

        st = self.pvc["status"]
        st["conditions"] = [{"type": "Resizing", "status": "True"}]
        time.sleep(0.3)
        st["conditions"] = [
            {
                "type": "FileSystemResizePending",
                "status": "True",
                "message": "Waiting for user to (re-)start a pod to finish file system resize",
            }
        ]
        time.sleep(0.3)
        with open(self.image, "r+b") as f:
            f.truncate(parse_quantity(size))
        device = system.mount_at(self.workspace).source  # type: ignore[union-attr]
        system.run(["losetup", "-c", device])
        system.run(["xfs_growfs", str(self.workspace)])
        st["capacity"] = {"storage": size}
        st.pop("conditions")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self
        pvc_path = f"/api/v1/namespaces/{NAMESPACE}/persistentvolumeclaims/{fake.pvc_name}"
        sc_path = f"/apis/storage.k8s.io/v1/storageclasses/{fake.storage_class_name}"
        user = f"system:serviceaccount:{NAMESPACE}:{fake.deployment.account}"

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _status(self, code: int, reason: str, message: str) -> None:
                self._send(
                    code,
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "metadata": {},
                        "status": "Failure",
                        "message": message,
                        "reason": reason,
                        "code": code,
                    },
                )

            def _authorized(self, verb: str) -> bool:
                """RBAC as the API server applies it, with its wording on a refusal."""
                if self.path == pvc_path:
                    what = ("", "persistentvolumeclaims", fake.pvc_name, True)
                elif self.path == sc_path:
                    what = ("storage.k8s.io", "storageclasses", fake.storage_class_name, False)
                else:
                    return True  # unknown paths are 404s
                group, resource, name, namespaced = what
                if fake.deployment.allows(group, resource, verb, namespaced):
                    return True
                full = f"{resource}.{group}" if group else resource
                where = f'in the namespace "{NAMESPACE}"' if namespaced else "at the cluster scope"
                self._status(
                    403,
                    "Forbidden",
                    f'{full} "{name}" is forbidden: User "{user}" cannot {verb} resource '
                    f'"{resource}" in API group "{group}" {where}',
                )
                return False

            def do_GET(self) -> None:
                fake.auth.append(self.headers.get("Authorization", ""))
                if not self._authorized("get"):
                    return
                if self.path == pvc_path:
                    self._send(200, fake.pvc)
                elif self.path == sc_path:
                    self._send(200, fake.storage_class)
                else:
                    self._status(404, "NotFound", f"{self.path} not found")

            def do_PATCH(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                ctype = self.headers.get("Content-Type", "")
                fake.patches.append((ctype, body))
                if self.path != pvc_path:
                    return self._status(404, "NotFound", "not found")
                if not self._authorized("patch"):
                    return
                if ctype != "application/merge-patch+json":
                    return self._status(415, "UnsupportedMediaType", f"unsupported {ctype}")
                if not fake.storage_class.get("allowVolumeExpansion"):
                    # The PersistentVolumeClaimResize admission plugin.
                    return self._status(
                        403,
                        "Forbidden",
                        f'persistentvolumeclaims "{fake.pvc_name}" is forbidden: only '
                        "dynamically provisioned pvc can be resized and the storageclass that "
                        "provisions the pvc must support resize",
                    )
                size = body["spec"]["resources"]["requests"]["storage"]
                fake.pvc["spec"]["resources"]["requests"]["storage"] = size
                fake.pvc["metadata"]["resourceVersion"] = "1002"
                self._send(200, fake.pvc)
                threading.Thread(target=fake._resize, args=(size,), daemon=True).start()

        return Handler

    @property
    def pvc_name(self) -> str:
        return self.deployment.pvc_name

    @property
    def storage_class_name(self) -> str:
        return self.deployment.storage_class_name


def test_the_deployment_objects_fit_together() -> None:
    """values.yaml's claim, class, account and env agree with the RBAC file."""
    d = Deployment()
    assert d.env == {"MA_K8S_PVC_NAME": d.pvc_name}  # the provider finds the claim KubeSpawner made
    assert d.storage_class["metadata"]["name"] == d.storage_class_name
    assert d.storage_class["allowVolumeExpansion"] is True
    assert d.allows("", "persistentvolumeclaims", "get", True)
    assert d.allows("", "persistentvolumeclaims", "patch", True)
    assert not d.allows("", "persistentvolumeclaims", "delete", True)


class TestKubernetesVolume:
    @pytest.fixture
    def fake_k8s(self, loop_workspace, storage_base):  # type: ignore[no-untyped-def]
        workspace, _ = loop_workspace
        fake = FakeKubernetes(workspace, storage_base / "workspace.img", 1)
        yield fake
        fake.close()

    @pytest.fixture
    def ma_config(self, loop_workspace, fake_k8s, storage_base):  # type: ignore[no-untyped-def]
        workspace, _ = loop_workspace
        token = storage_base / "token"
        token.write_text("k8s-test-token\n")
        return {
            "MaNotebookApp": {"workspace_dir": str(workspace)},
            "StorageService": {
                "volume_provider_class": "ma_notebook.storage.volumes.KubernetesVolumeProvider"
            },
            "KubernetesVolumeProvider": {
                "pvc_name": fake_k8s.pvc_name,
                "namespace": NAMESPACE,
                "api_url": fake_k8s.url,
                "token_file": str(token),
                "poll_seconds": 0.2,
            },
        }

    async def test_pvc_is_merge_patched_and_done_when_statvfs_shows_it(
        self, api, fake_k8s, loop_workspace
    ):
        workspace, _ = loop_workspace
        status, vol = await api("storage/volume")
        assert vol["type"] == "kubernetes" and vol["expandable"] is True, vol
        assert vol["capacity_gb"] == 1
        before = total(workspace)
        status, task = await api("storage/volume/expand", method="POST", body={"increase_gb": 1})
        assert status == 202, task
        task = await wait_task(api, task["id"])
        assert task["state"] == "succeeded", task
        assert fake_k8s.patches == [
            (
                "application/merge-patch+json",
                {"spec": {"resources": {"requests": {"storage": "2Gi"}}}},
            )
        ]
        assert total(workspace) - before > 0.9 * GiB
        assert "Bearer k8s-test-token" in fake_k8s.auth
        status, vol = await api("storage/volume")
        assert vol["capacity_gb"] == 2

    async def test_the_total_limit_is_checked_before_any_patch(self, api, fake_k8s):
        fake_k8s.pvc["status"]["capacity"]["storage"] = "4050Gi"
        status, err = await api("storage/volume/expand", method="POST", body={"increase_gb": 100})
        assert status == 400 and err["reason"] == "total_too_large", err
        assert "4,096" in err["message"] or "4096" in err["message"]
        assert fake_k8s.patches == []

    async def test_a_class_that_cannot_grow_is_named_when_the_pod_may_read_it(self, api, fake_k8s):
        fake_k8s.grant_storage_class_read()
        fake_k8s.storage_class["allowVolumeExpansion"] = False
        status, vol = await api("storage/volume")
        assert vol["expandable"] is False and "does not allow volume expansion" in vol["reason"]
        status, err = await api("storage/volume/expand", method="POST", body={"increase_gb": 1})
        assert status == 409, err
        assert fake_k8s.patches == []

    async def test_with_the_shipped_rbac_the_api_server_refuses_a_class_that_cannot_grow(
        self, api, fake_k8s
    ):
        # The pod may not read storage classes (cluster-wide): the patch is where it shows.
        fake_k8s.storage_class["allowVolumeExpansion"] = False
        status, vol = await api("storage/volume")
        assert vol["expandable"] is True, vol
        status, task = await api("storage/volume/expand", method="POST", body={"increase_gb": 1})
        assert status == 202, task
        task = await wait_task(api, task["id"])
        assert task["state"] == "failed", task
        assert "does not allow volume expansion" in task["error"], task["error"]
        assert "must support resize" in task["error"] and "RBAC" not in task["error"]


class TestKubernetesVolumeFromThePodsEnvironment(TestKubernetesVolume):
    """Under KubeSpawner the claim and namespace come from the env the z2jh values set."""

    @pytest.fixture
    def ma_config(self, loop_workspace, fake_k8s, storage_base, monkeypatch):  # type: ignore[no-untyped-def]
        for name, value in fake_k8s.deployment.env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("MA_K8S_NAMESPACE", NAMESPACE)  # values.yaml: the pod's namespace
        workspace, _ = loop_workspace
        token = storage_base / "token"
        token.write_text("k8s-test-token\n")
        return {
            "MaNotebookApp": {"workspace_dir": str(workspace)},
            "StorageService": {
                "volume_provider_class": "ma_notebook.storage.volumes.KubernetesVolumeProvider"
            },
            "KubernetesVolumeProvider": {
                "api_url": fake_k8s.url,
                "token_file": str(token),
                "poll_seconds": 0.2,
            },
        }

    async def test_a_forbidden_patch_says_which_rbac_is_missing(self, api, fake_k8s):
        fake_k8s.revoke("patch")
        status, task = await api("storage/volume/expand", method="POST", body={"increase_gb": 1})
        assert status == 202, task
        task = await wait_task(api, task["id"])
        assert task["state"] == "failed"
        assert "403 Forbidden" in task["error"] and "k8s-storage-rbac.yaml" in task["error"]
        assert f"{NAMESPACE}/{fake_k8s.pvc_name}" in task["error"]

    async def test_a_claim_the_pod_may_not_read_says_which_rbac_is_missing(self, api, fake_k8s):
        fake_k8s.revoke("get")
        status, vol = await api("storage/volume")
        assert status == 200
        assert vol["expandable"] is False and "k8s-storage-rbac.yaml" in vol["reason"], vol


def test_cli_sets_up_a_local_volume_and_grows_it_directly(storage_base):
    import subprocess
    import sys

    workspace, data_dir = storage_base / "ws", storage_base / "data-dir"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ma_notebook.cli", "storage", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    common = ["--workspace", str(workspace), "--data-dir", str(data_dir)]
    made = cli("init-local-volume", "--size", "1", *common)
    assert made.returncode == 0, made.stderr
    assert "is now an XFS volume of 1 GB on /dev/loop" in made.stdout
    before = total(workspace)
    refused = cli("expand", "101", "--direct", *common)
    assert refused.returncode == 1 and "At most 100 GB" in refused.stderr, refused.stderr
    grown = cli("expand", "1", "--direct", *common)
    assert grown.returncode == 0, grown.stderr
    assert "now 2 GB" in grown.stdout
    assert total(workspace) - before > 0.9 * GiB
    again = cli("init-local-volume", "--size", "1", *common)
    assert again.returncode == 1 and "already a mount point" in again.stderr
