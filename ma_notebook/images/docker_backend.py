"""Save Image through a Docker Engine socket: pause + commit + push (docker-py).

For single-machine deployments where the notebook runs in a local container and the Docker
socket is reachable (choose it with ``ImageService.backend_class``).
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any

from traitlets import Unicode
from traitlets.config import Configurable

from .registry import parse_ref
from .saver import GB, SaveError, SaveProgress, SaveRequest
from .service import ImageService, SaveBackend

_CONTAINER_ID = re.compile(r"/(?:docker|containers)/([0-9a-f]{64})")


class DockerBackendConfig(Configurable):
    """Where the Docker Engine is and which container is this notebook."""

    docker_url = Unicode(
        "unix:///var/run/docker.sock",
        config=True,
        help="The Docker Engine's address. Default: unix:///var/run/docker.sock.",
    )
    container = Unicode(
        config=True,
        help="This notebook's container id or name. Default: $MA_NOTEBOOK_CONTAINER, else the id "
        "found in /proc/self/mountinfo, else the host name.",
    )


def own_container_id(mountinfo: str = "/proc/self/mountinfo") -> str:
    """The id of the container this process runs in, as Docker names it, or ''."""
    env = os.environ.get("MA_NOTEBOOK_CONTAINER", "")
    if env:
        return env
    try:
        with open(mountinfo) as f:
            for line in f:
                m = _CONTAINER_ID.search(line)
                if m:
                    return m.group(1)
    except OSError:
        pass
    return os.environ.get("HOSTNAME", "")


class DockerBackend(SaveBackend):
    """docker commit (the daemon pauses the container meanwhile) and docker push."""

    name = "docker"

    def __init__(self, service: ImageService) -> None:
        super().__init__(service)
        self.config = DockerBackendConfig(parent=service)

    def _client(self) -> Any:
        import docker

        return docker.DockerClient(base_url=self.config.docker_url, timeout=600)

    def container_id(self) -> str:
        """The container to commit."""
        return self.config.container or own_container_id()

    def available(self) -> tuple[bool, str]:
        """Available when the socket answers and knows this container."""
        try:
            client = self._client()
            client.containers.get(self.container_id())
        except Exception as e:
            return False, f"the Docker Engine at {self.config.docker_url} cannot commit this " + (
                f"container ({type(e).__name__})"
            )
        return True, ""

    def save(
        self, req: SaveRequest, events: Any, progress: SaveProgress, cancel: threading.Event
    ) -> dict[str, Any]:
        """Commit, check the limits, push; SaveError with the seed's reasons on failure."""
        try:
            return self._save(req, events, progress, cancel)
        except SaveError as e:
            if e.reason != "cancelled":
                events("SavedImageFailed", "Critical", f"Saving the image failed: {e.message}")
            raise

    def _save(
        self, req: SaveRequest, events: Any, progress: SaveProgress, cancel: threading.Event
    ) -> dict[str, Any]:
        import docker

        settings = self.service.settings()
        ref = parse_ref(req.target)
        repository = f"{ref.registry}/{ref.repo}"
        client = self._client()
        try:
            container = client.containers.get(self.container_id())
        except docker.errors.DockerException as e:
            raise SaveError(
                f"This notebook's container is unknown to Docker: {e}", "snapshot"
            ) from None
        base = client.images.get(container.image.id)
        layers = len(base.attrs.get("RootFS", {}).get("Layers", [])) + 1
        events(
            "CheckImageLayer",
            "Major",
            f"The image will have {layers} layer(s) (limit {settings.max_layers}).",
        )
        if layers > settings.max_layers:
            raise SaveError(
                f"The image would have {layers} layers, more than the limit of "
                f"{settings.max_layers}.",
                "layers",
            )
        info = client.api.inspect_container(container.id, size=True)
        total = int(info.get("SizeRootFs") or 0)
        events(
            "CheckImageSize",
            "Major",
            f"The image will be about {total / GB:.2f} GB "
            f"(limit {settings.max_size_bytes / GB:.0f} GB).",
        )
        if total > settings.max_size_bytes:
            raise SaveError(
                f"The image would be {total / GB:.2f} GB, more than the limit of "
                f"{settings.max_size_bytes / GB:.0f} GB.",
                "size",
            )
        progress.set(phase="snapshotting")
        events("ContainerCommitStarted", "Major", f"Committing the container as {req.target}.")
        try:
            image = container.commit(
                repository=repository, tag=ref.tag, message=req.description, pause=True
            )
        except docker.errors.DockerException as e:
            events("ContainerCommitFailed", "Critical", str(e))
            raise SaveError(f"docker commit failed: {e}", "snapshot") from None
        events("ContainerCommitSuccess", "Major", f"Committed {image.short_id}.")
        if cancel.is_set():
            client.images.remove(image.id, noprune=False)
            raise SaveError("Cancelled.", "cancelled")
        progress.set(phase="pushing")
        events("ImagePushStarted", "Major", f"Pushing {req.target}.")
        auth = settings.credentials.get(ref.registry)
        auth_config = {"username": auth[0], "password": auth[1]} if auth else None
        digest = ""
        pushed: dict[str, int] = {}
        try:
            for line in client.api.push(
                repository, tag=ref.tag, stream=True, decode=True, auth_config=auth_config
            ):
                if cancel.is_set():
                    raise SaveError("Cancelled.", "cancelled")
                if "error" in line or "errorDetail" in line:
                    detail = line.get("errorDetail", {}).get("message") or line.get("error")
                    raise SaveError(f"docker push failed: {detail}", "push")
                detail = line.get("progressDetail") or {}
                if line.get("id") and detail.get("current"):
                    pushed[line["id"]] = int(detail["current"])
                    progress.set(bytes_pushed=sum(pushed.values()))
                aux = line.get("aux") or {}
                digest = aux.get("Digest", digest)
        except SaveError as e:
            if e.reason == "push":
                events("ImagePushFailed", "Critical", e.message)
            raise
        except docker.errors.DockerException as e:
            events("ImagePushFailed", "Critical", str(e))
            raise SaveError(f"docker push failed: {e}", "push") from None
        events("ImagePushSuccess", "Major", f"Pushed {req.target} ({digest}).")
        events("SaveImage", "Major", f"The image {req.target} was saved.")
        progress.set(phase="done")
        return {"image": req.target, "digest": digest, "layers": layers, "backend": "docker"}
