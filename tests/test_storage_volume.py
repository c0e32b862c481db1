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


class FakeKubernetes:
    """A loopback API server with the PVC and StorageClass endpoints' real shapes.

    Like the kubelet, it grows the loop XFS volume behind the claim once the request is patched,
    passing through the ``Resizing`` and ``FileSystemResizePending`` conditions.
    """

    def __init__(self, workspace: Path, image: Path, capacity_gi: int) -> None:
        self.workspace, self.image = workspace, image
        self.patches: list[tuple[str, dict]] = []
        self.auth: list[str] = []
        self.pvc: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {
                "name": "claim-ma-user",
                "namespace": "jhub",
                "uid": "6a0e4c6e-0c1d-4b8e-9d6c-1e2f3a4b5c6d",
                "resourceVersion": "1001",
                "creationTimestamp": "2026-11-30T10:00:00Z",
            },
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": f"{capacity_gi}Gi"}},
                "storageClassName": "expandable",
                "volumeMode": "Filesystem",
                "volumeName": "pvc-6a0e4c6e",
            },
            "status": {
                "phase": "Bound",
                "accessModes": ["ReadWriteOnce"],
                "capacity": {"storage": f"{capacity_gi}Gi"},
            },
        }
        self.allow_expansion = True
        self.forbid_patch = False
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

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
        pvc_path = "/api/v1/namespaces/jhub/persistentvolumeclaims/claim-ma-user"

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

            def do_GET(self) -> None:
                fake.auth.append(self.headers.get("Authorization", ""))
                if self.path == pvc_path:
                    self._send(200, fake.pvc)
                elif self.path == "/apis/storage.k8s.io/v1/storageclasses/expandable":
                    self._send(
                        200,
                        {
                            "apiVersion": "storage.k8s.io/v1",
                            "kind": "StorageClass",
                            "metadata": {"name": "expandable"},
                            "provisioner": "kubernetes.io/no-provisioner",
                            "allowVolumeExpansion": fake.allow_expansion,
                            "reclaimPolicy": "Delete",
                            "volumeBindingMode": "Immediate",
                        },
                    )
                else:
                    self._status(404, "NotFound", f"{self.path} not found")

            def do_PATCH(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                ctype = self.headers.get("Content-Type", "")
                fake.patches.append((ctype, body))
                if self.path != pvc_path:
                    return self._status(404, "NotFound", "not found")
                if fake.forbid_patch:  # what the API server says without the RBAC Role
                    return self._status(
                        403,
                        "Forbidden",
                        'persistentvolumeclaims "claim-ma-user" is forbidden: User '
                        '"system:serviceaccount:jhub:default" cannot patch resource',
                    )
                if ctype != "application/merge-patch+json":
                    return self._status(415, "UnsupportedMediaType", f"unsupported {ctype}")
                size = body["spec"]["resources"]["requests"]["storage"]
                fake.pvc["spec"]["resources"]["requests"]["storage"] = size
                fake.pvc["metadata"]["resourceVersion"] = "1002"
                self._send(200, fake.pvc)
                threading.Thread(target=fake._resize, args=(size,), daemon=True).start()

        return Handler


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
                "pvc_name": "claim-ma-user",
                "namespace": "jhub",
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

    async def test_limits_and_storage_class_are_checked(self, api, fake_k8s):
        fake_k8s.pvc["status"]["capacity"]["storage"] = "4050Gi"
        status, err = await api("storage/volume/expand", method="POST", body={"increase_gb": 100})
        assert status == 400 and err["reason"] == "total_too_large", err
        assert "4,096" in err["message"] or "4096" in err["message"]
        fake_k8s.pvc["status"]["capacity"]["storage"] = "1Gi"
        fake_k8s.allow_expansion = False
        status, vol = await api("storage/volume")
        assert vol["expandable"] is False and "does not allow volume expansion" in vol["reason"]
        status, err = await api("storage/volume/expand", method="POST", body={"increase_gb": 1})
        assert status == 409, err
        assert fake_k8s.patches == []


class TestKubernetesVolumeFromThePodsEnvironment(TestKubernetesVolume):
    """Under KubeSpawner the claim and namespace come from the env the z2jh values set."""

    @pytest.fixture
    def ma_config(self, loop_workspace, fake_k8s, storage_base, monkeypatch):  # type: ignore[no-untyped-def]
        monkeypatch.setenv("MA_K8S_PVC_NAME", "claim-ma-user")
        monkeypatch.setenv("MA_K8S_NAMESPACE", "jhub")
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
        fake_k8s.forbid_patch = True
        status, task = await api("storage/volume/expand", method="POST", body={"increase_gb": 1})
        assert status == 202, task
        task = await wait_task(api, task["id"])
        assert task["state"] == "failed"
        assert "403 Forbidden" in task["error"] and "k8s-storage-rbac.yaml" in task["error"]
        assert "jhub/claim-ma-user" in task["error"]


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
