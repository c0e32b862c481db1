"""``obs://bucket/key`` paths."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ObsError

SCHEMES = ("obs://", "s3://")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


def is_obs(path: object) -> bool:
    """Whether ``path`` is an object-storage URL (obs:// or s3://)."""
    return isinstance(path, str) and path.lower().startswith(SCHEMES)


def valid_bucket(name: str) -> bool:
    """Whether ``name`` is a valid bucket name (3-63 lowercase letters, digits, '-', '.')."""
    return bool(_BUCKET_RE.match(name)) and ".." not in name


@dataclass(frozen=True)
class ObsPath:
    """A bucket plus a key; a key ending in '/' (or empty) names a folder."""

    bucket: str
    key: str = ""

    @classmethod
    def parse(cls, url: str) -> ObsPath:
        """Parse ``obs://bucket/key`` (or ``s3://``), or raise a 400 ObsError."""
        if not is_obs(url):
            raise ObsError(f"Not an OBS path: {url!r}; use obs://bucket/key.", 400, "bad_path")
        rest = url.split("://", 1)[1]
        bucket, _, key = rest.partition("/")
        if not bucket:
            return cls("", "")
        if not valid_bucket(bucket):
            raise ObsError(
                f"Invalid bucket name {bucket!r}: 3-63 lowercase letters, digits, '-' or '.'.",
                400,
                "bad_bucket_name",
            )
        if any(part in (".", "..") for part in key.split("/")):
            raise ObsError(f"Object keys may not contain '.' or '..' parts: {url!r}.", 400)
        return cls(bucket, key)

    @property
    def is_root(self) -> bool:
        """Whether this is ``obs://`` (all buckets)."""
        return not self.bucket

    @property
    def is_folder(self) -> bool:
        """Whether the key names a folder (empty or ending in '/')."""
        return self.key == "" or self.key.endswith("/")

    @property
    def name(self) -> str:
        """The last path part."""
        return self.key.rstrip("/").rsplit("/", 1)[-1] if self.key else self.bucket

    def as_folder(self) -> ObsPath:
        """This path with a trailing '/' (the folder prefix)."""
        return self if self.is_folder else ObsPath(self.bucket, self.key + "/")

    def child(self, relative: str) -> ObsPath:
        """The path ``relative`` below this folder."""
        return ObsPath(self.bucket, self.as_folder().key + relative.lstrip("/"))

    def __str__(self) -> str:
        return f"obs://{self.bucket}/{self.key}" if self.bucket else "obs://"
