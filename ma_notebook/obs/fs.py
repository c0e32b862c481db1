"""The fsspec protocol ``obs``: ``fsspec.open("obs://bucket/key")``, ``pandas.read_csv(...)``.

Registered through the ``fsspec.specs`` entry point. With an endpoint configured (traitlets
are not visible here: environment or ma-cli profile) it wraps s3fs; otherwise it serves the
embedded local store's folder, so the same code runs offline.
"""

from __future__ import annotations

from typing import Any

from fsspec.implementations.dirfs import DirFileSystem
from fsspec.implementations.local import LocalFileSystem

from .config import ObsSettings, resolve_settings


def s3fs_options(settings: ObsSettings) -> dict[str, Any]:
    """s3fs constructor options for these settings."""
    options: dict[str, Any] = {
        "client_kwargs": {"region_name": settings.region or "us-east-1"},
        "config_kwargs": {
            "s3": {"addressing_style": settings.effective_addressing_style()},
            "request_checksum_calculation": "when_required",
            "response_checksum_validation": "when_required",
        },
    }
    endpoint = settings.effective_endpoint()
    if endpoint:
        options["endpoint_url"] = endpoint
    if settings.access_key:
        options.update(key=settings.access_key, secret=settings.secret_key)
        if settings.security_token:
            options["token"] = settings.security_token
    else:
        options["anon"] = True
    return options


class ObsFileSystem(DirFileSystem):
    """``obs://bucket/key`` paths on the configured endpoint or the embedded store."""

    protocol = ("obs",)
    root_marker = ""
    cachable = False

    def __init__(
        self,
        profile: str | None = None,
        profile_file: str | None = None,
        settings: ObsSettings | None = None,
        **storage_options: Any,
    ) -> None:
        self.settings = settings or resolve_settings(profile=profile, profile_file=profile_file)
        if self.settings.mode == "endpoint":
            import s3fs

            fs: Any = s3fs.S3FileSystem(**s3fs_options(self.settings), skip_instance_cache=True)
            super().__init__(path="", fo="", fs=fs, **storage_options)
        else:
            fs = LocalFileSystem(auto_mkdir=True)
            super().__init__(path=self.settings.local_root, fs=fs, **storage_options)

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = str(path)
        for prefix in ("obs://", "s3://", "obs::"):
            if path.startswith(prefix):
                path = path[len(prefix) :]
        return path.rstrip("/") if path not in ("", "/") else ""

    def unstrip_protocol(self, name: str) -> str:
        """``obs://`` plus the path."""
        return "obs://" + self._strip_protocol(name)

    def _relpath(self, path: Any) -> Any:
        rel = super()._relpath(path)
        if isinstance(rel, str):
            return rel.lstrip("/")
        return rel

    # The embedded store keeps multipart parts and temp files under names starting with ".ma-";
    # they are not objects.
    @staticmethod
    def _visible(name: str) -> bool:
        return not any(part.startswith(".ma-") for part in name.split("/"))

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> Any:
        """Folder listing without the embedded store's internal files."""
        out = super().ls(path, detail=detail, **kwargs)
        if self.settings.mode == "endpoint":
            return out
        return [e for e in out if self._visible(e["name"] if detail else e)]

    def find(self, path: str, *args: Any, **kwargs: Any) -> Any:
        """Recursive listing without the embedded store's internal files."""
        out = super().find(path, *args, **kwargs)
        if self.settings.mode == "endpoint":
            return out
        if isinstance(out, dict):
            return {k: v for k, v in out.items() if self._visible(k)}
        return [p for p in out if self._visible(p)]
