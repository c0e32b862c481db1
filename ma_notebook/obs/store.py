"""Object stores behind one small API: an S3-compatible endpoint and the embedded local store.

Both speak the same operations (buckets, paged listing, head, ranged reads, single and
multipart writes, server-side copy, delete, presigned URLs), so the transfer engine, the REST
API and ``ma_notebook.obs.file`` work the same on OBS, S3, MinIO and offline.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from .config import ObsSettings
from .errors import ObsError, ObsNotFound, translate
from .paths import ObsPath, valid_bucket

#: Metadata key recording the part size an object was uploaded with (aligns ranged downloads).
PART_SIZE_META = "ma-part-size"
_XATTR = "user.ma_notebook.etag"
_HIDDEN = ".ma-"
_MD5_RE = re.compile(r"^[0-9a-f]{32}(-\d+)?$")


@dataclass
class ObjectInfo:
    """An object (or folder when ``is_dir``) as listed or stat'ed."""

    key: str
    size: int = 0
    etag: str = ""
    last_modified: float = 0.0
    is_dir: bool = False
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The last part of the key."""
        return self.key.rstrip("/").rsplit("/", 1)[-1]

    def to_json(self, bucket: str = "") -> dict[str, Any]:
        """The REST representation."""
        return {
            "name": self.name,
            "path": str(ObsPath(bucket, self.key)) if bucket else self.key,
            "type": "directory" if self.is_dir else "file",
            "size": None if self.is_dir else self.size,
            "etag": self.etag or None,
            "last_modified": self.last_modified or None,
        }


@dataclass
class ListPage:
    """One page of a listing; ``next_token`` continues it."""

    entries: list[ObjectInfo]
    next_token: str | None = None


def is_md5_etag(etag: str) -> bool:
    """Whether an ETag is an MD5 (single upload) or MD5-of-MD5s-N (multipart) checksum."""
    return bool(_MD5_RE.match(etag or ""))


def multipart_etag(part_md5s: Iterable[str]) -> str:
    """The S3 multipart ETag for parts with these MD5 hex digests."""
    digests = [bytes.fromhex(d) for d in part_md5s]
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"  # noqa: S324


class ObjectStore(Protocol):
    """The operations every store offers (see S3Store and LocalStore)."""

    kind: str

    def list_buckets(self) -> list[ObjectInfo]: ...
    def create_bucket(self, bucket: str) -> None: ...
    def list_objects(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "/",
        token: str | None = None,
        limit: int = 1000,
    ) -> ListPage: ...
    def head(self, bucket: str, key: str) -> ObjectInfo: ...
    def get_range(
        self, bucket: str, key: str, start: int, end: int | None, if_match: str | None = None
    ) -> tuple[bytes, ObjectInfo]: ...
    def put(
        self, bucket: str, key: str, data: bytes, metadata: dict[str, str] | None = None
    ) -> str: ...
    def copy(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str) -> None: ...
    def delete(self, bucket: str, keys: list[str]) -> None: ...
    def create_multipart(
        self, bucket: str, key: str, metadata: dict[str, str] | None = None
    ) -> str: ...
    def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, data: bytes
    ) -> str: ...
    def list_parts(self, bucket: str, key: str, upload_id: str) -> dict[int, tuple[str, int]]: ...
    def list_multipart_uploads(self, bucket: str, prefix: str) -> list[tuple[str, str, float]]: ...
    def complete_multipart(
        self, bucket: str, key: str, upload_id: str, parts: list[tuple[int, str]]
    ) -> str: ...
    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None: ...
    def presign_get(
        self, bucket: str, key: str, expires: int, filename: str | None = None
    ) -> str: ...
    def presign_upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, expires: int
    ) -> str: ...


# ---------------------------------------------------------------- S3-compatible endpoint


class S3Store:
    """An S3-compatible endpoint (Huawei OBS, AWS S3, MinIO, moto) through botocore."""

    kind = "endpoint"

    def __init__(self, settings: ObsSettings, max_connections: int = 64) -> None:
        import botocore.session
        from botocore import UNSIGNED
        from botocore.config import Config

        self.settings = settings
        session = botocore.session.Session()
        config = Config(
            max_pool_connections=max_connections,
            s3={"addressing_style": settings.effective_addressing_style()},
            # unsigned requests failing is the norm (no credentials): answer at once, not in 15 s
            retries={"max_attempts": 3 if settings.access_key else 1, "mode": "standard"},
            connect_timeout=10,
            read_timeout=120,
            tcp_keepalive=True,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            signature_version=UNSIGNED if not settings.access_key else "s3v4",
        )
        #: Whether part bodies are integrity-checked in transit: TLS, or SigV4 signing the
        #: payload's SHA-256 (botocore does so on plain http), which the store verifies.
        endpoint = settings.effective_endpoint() or "https:"
        self.payload_protected = bool(settings.access_key) or endpoint.startswith("https:")
        self.client = session.create_client(
            "s3",
            endpoint_url=settings.effective_endpoint(),
            region_name=settings.region or "us-east-1",
            aws_access_key_id=settings.access_key or None,
            aws_secret_access_key=settings.secret_key or None,
            aws_session_token=settings.security_token or None,
            config=config,
        )

    def _err(self, e: Exception, bucket: str = "", key: str = "") -> ObsError:
        err = translate(e, str(ObsPath(bucket, key)) if bucket else "", self.settings.secrets)
        anonymous = not self.settings.access_key and not self.settings.security_token
        if anonymous and err.reason in ("store_failed", "no_permission", "refused"):
            # Without credentials requests go unsigned; OBS answers those with 403 or even 500.
            return ObsError(
                f"No credentials are set for the object storage endpoint "
                f"{self.settings.effective_endpoint()}: set HUAWEICLOUD_SDK_AK and "
                "HUAWEICLOUD_SDK_SK in the environment, or run `ma-cli configure --auth AKSK` "
                f"(the endpoint answered: {err.message})",
                401,
                "no_credentials",
            )
        if err.reason == "no_such_key" and bucket and not self._bucket_exists(bucket):
            return ObsNotFound(
                f"The bucket {bucket} does not exist (obs://{bucket}/).", "no_such_bucket"
            )
        return err

    def _bucket_exists(self, bucket: str) -> bool:
        try:
            self.client.head_bucket(Bucket=bucket)
        except Exception as e:
            status = getattr(e, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
            return status != 404
        return True

    def list_buckets(self) -> list[ObjectInfo]:
        """Every bucket the credentials can see."""
        try:
            resp = self.client.list_buckets()
        except Exception as e:
            raise self._err(e) from None
        return [
            ObjectInfo(
                key=b["Name"],
                is_dir=True,
                last_modified=b["CreationDate"].timestamp() if b.get("CreationDate") else 0.0,
            )
            for b in resp.get("Buckets", [])
        ]

    def create_bucket(self, bucket: str) -> None:
        """Create a bucket in the configured region."""
        kwargs: dict[str, Any] = {"Bucket": bucket}
        region = self.settings.region
        if region and region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(**kwargs)
        except Exception as e:
            raise self._err(e, bucket) from None

    def list_objects(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "/",
        token: str | None = None,
        limit: int = 1000,
    ) -> ListPage:
        """One page of keys under ``prefix``; folders as ``is_dir`` entries with ``delimiter``."""
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": limit}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        if token:
            kwargs["ContinuationToken"] = token
        try:
            resp = self.client.list_objects_v2(**kwargs)
        except Exception as e:
            raise self._err(e, bucket, prefix) from None
        entries = [ObjectInfo(key=p["Prefix"], is_dir=True) for p in resp.get("CommonPrefixes", [])]
        for o in resp.get("Contents", []):
            if delimiter and o["Key"] == prefix and prefix.endswith("/"):
                continue  # the folder's own marker
            entries.append(
                ObjectInfo(
                    key=o["Key"],
                    size=int(o.get("Size", 0)),
                    etag=str(o.get("ETag", "")).strip('"'),
                    last_modified=o["LastModified"].timestamp() if o.get("LastModified") else 0,
                    is_dir=o["Key"].endswith("/"),
                )
            )
        entries.sort(key=lambda i: i.key)
        return ListPage(
            entries, resp.get("NextContinuationToken") if resp.get("IsTruncated") else None
        )

    def head(self, bucket: str, key: str) -> ObjectInfo:
        """Size, ETag, time and metadata of one object."""
        try:
            r = self.client.head_object(Bucket=bucket, Key=key)
        except Exception as e:
            raise self._err(e, bucket, key) from None
        return self._info(key, r, int(r.get("ContentLength", 0)))

    @staticmethod
    def _info(key: str, r: dict[str, Any], size: int) -> ObjectInfo:
        return ObjectInfo(
            key=key,
            size=size,
            etag=str(r.get("ETag", "")).strip('"'),
            last_modified=r["LastModified"].timestamp() if r.get("LastModified") else 0.0,
            metadata=dict(r.get("Metadata") or {}),
        )

    def get_range(
        self, bucket: str, key: str, start: int, end: int | None, if_match: str | None = None
    ) -> tuple[bytes, ObjectInfo]:
        """Bytes ``start..end`` (inclusive; ``end=None`` to the end) and the object's info."""
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        kwargs["Range"] = f"bytes={start}-{'' if end is None else end}"
        if if_match:
            kwargs["IfMatch"] = if_match
        try:
            r = self.client.get_object(**kwargs)
            data = r["Body"].read()
        except Exception as e:
            code = getattr(e, "response", {}).get("Error", {}).get("Code")
            if code == "InvalidRange" and start == 0:
                info = self.head(bucket, key)
                if info.size == 0:
                    return b"", info
            if code == "PreconditionFailed":
                raise ObsError(
                    f"{ObsPath(bucket, key)} changed during the transfer; start it again.",
                    409,
                    "changed",
                ) from None
            raise self._err(e, bucket, key) from None
        total = len(data)
        cr = r.get("ContentRange")
        if cr and "/" in cr:
            with contextlib.suppress(ValueError):
                total = int(cr.rsplit("/", 1)[1])
        return data, self._info(key, r, total)

    def put(
        self, bucket: str, key: str, data: bytes, metadata: dict[str, str] | None = None
    ) -> str:
        """Write one object in a single request; returns its ETag."""
        try:
            r = self.client.put_object(Bucket=bucket, Key=key, Body=data, Metadata=metadata or {})
        except Exception as e:
            raise self._err(e, bucket, key) from None
        return str(r.get("ETag", "")).strip('"')

    def copy(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str) -> None:
        """Server-side copy of one object."""
        try:
            self.client.copy_object(
                Bucket=dst_bucket, Key=dst_key, CopySource={"Bucket": src_bucket, "Key": src_key}
            )
        except Exception as e:
            err = self._err(e, src_bucket, src_key)
            if err.reason == "no_such_bucket" and not self._bucket_exists(dst_bucket):
                err = ObsNotFound(
                    f"The destination bucket {dst_bucket} does not exist (obs://{dst_bucket}/).",
                    "no_such_bucket",
                )
            raise err from None

    def delete(self, bucket: str, keys: list[str]) -> None:
        """Delete objects (missing ones are fine)."""
        for i in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[i : i + 1000]]
            try:
                r = self.client.delete_objects(
                    Bucket=bucket, Delete={"Objects": batch, "Quiet": True}
                )
            except Exception as e:
                raise self._err(e, bucket) from None
            errors = r.get("Errors") or []
            if errors:
                first = errors[0]
                raise ObsError(
                    f"Could not delete {ObsPath(bucket, first.get('Key', ''))}: "
                    f"{first.get('Code')} {first.get('Message', '')}",
                    403 if first.get("Code") == "AccessDenied" else 400,
                    "delete_failed",
                )

    def create_multipart(
        self, bucket: str, key: str, metadata: dict[str, str] | None = None
    ) -> str:
        """Start a multipart upload; returns its upload id."""
        try:
            r = self.client.create_multipart_upload(Bucket=bucket, Key=key, Metadata=metadata or {})
        except Exception as e:
            raise self._err(e, bucket, key) from None
        return str(r["UploadId"])

    def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, data: bytes
    ) -> str:
        """Upload one part; returns its ETag."""
        try:
            r = self.client.upload_part(
                Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=part_number, Body=data
            )
        except Exception as e:
            raise self._err(e, bucket, key) from None
        return str(r.get("ETag", "")).strip('"')

    def list_parts(self, bucket: str, key: str, upload_id: str) -> dict[int, tuple[str, int]]:
        """Uploaded parts: number -> (ETag, size)."""
        parts: dict[int, tuple[str, int]] = {}
        marker = 0
        while True:
            try:
                r = self.client.list_parts(
                    Bucket=bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker
                )
            except Exception as e:
                raise self._err(e, bucket, key) from None
            for p in r.get("Parts", []):
                parts[int(p["PartNumber"])] = (str(p["ETag"]).strip('"'), int(p["Size"]))
            if not r.get("IsTruncated"):
                return parts
            marker = int(r.get("NextPartNumberMarker", 0))

    def list_multipart_uploads(self, bucket: str, prefix: str) -> list[tuple[str, str, float]]:
        """Unfinished multipart uploads under ``prefix``: (key, upload id, initiated time)."""
        uploads: list[tuple[str, str, float]] = []
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        while True:
            try:
                r = self.client.list_multipart_uploads(**kwargs)
            except Exception as e:
                raise self._err(e, bucket, prefix) from None
            for u in r.get("Uploads", []):
                initiated = u.get("Initiated")
                when = initiated.timestamp() if hasattr(initiated, "timestamp") else 0.0
                uploads.append((str(u["Key"]), str(u["UploadId"]), when))
            if not r.get("IsTruncated"):
                return uploads
            kwargs["KeyMarker"] = r.get("NextKeyMarker", "")
            kwargs["UploadIdMarker"] = r.get("NextUploadIdMarker", "")

    def complete_multipart(
        self, bucket: str, key: str, upload_id: str, parts: list[tuple[int, str]]
    ) -> str:
        """Assemble the parts into the object; returns its ETag."""
        try:
            r = self.client.complete_multipart_upload(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={
                    "Parts": [{"PartNumber": n, "ETag": f'"{e}"'} for n, e in sorted(parts)]
                },
            )
        except Exception as e:
            raise self._err(e, bucket, key) from None
        return str(r.get("ETag", "")).strip('"')

    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        """Drop a multipart upload and its parts."""
        try:
            self.client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except Exception as e:
            err = self._err(e, bucket, key)
            if err.status != 404:
                raise err from None

    def presign_get(self, bucket: str, key: str, expires: int, filename: str | None = None) -> str:
        """A GET URL that works without credentials until it expires."""
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = _disposition(filename)
        return str(
            self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)
        )

    def presign_upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, expires: int
    ) -> str:
        """A PUT URL for one part of a multipart upload, valid until it expires."""
        return str(
            self.client.generate_presigned_url(
                "upload_part",
                Params={
                    "Bucket": bucket,
                    "Key": key,
                    "UploadId": upload_id,
                    "PartNumber": part_number,
                },
                ExpiresIn=expires,
            )
        )


def _disposition(filename: str) -> str:
    """A Content-Disposition for ``filename``: a safe ASCII fallback plus the exact RFC 5987 form.

    Control characters (CR/LF would split the header) and quotes never reach the plain form.
    """
    ascii_name = (
        "".join("_" if not (32 <= ord(ch) < 127) or ch in '"\\' else ch for ch in filename).strip()
        or "download"
    )
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


# ---------------------------------------------------------------- embedded local store


class PresignSigner:
    """HMAC signatures for the embedded store's presigned URLs (unguessable and expiring)."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def sign(self, *fields: str) -> str:
        """The signature of these request fields (each length-prefixed: no two lists collide)."""
        msg = b"ma-presign-v2"
        for value in fields:
            raw = value.encode("utf-8", "surrogatepass")
            msg += b"|%d:" % len(raw) + raw
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()

    def verify(self, signature: str, expires: str, *fields: str) -> bool:
        """Whether ``signature`` is valid for these fields and has not expired."""
        if not (expires.isascii() and expires.isdigit()) or len(expires) > 12:
            return False
        if int(expires) < time.time():
            return False
        given = (signature or "").encode("utf-8", "surrogatepass")
        return hmac.compare_digest(self.sign(expires, *fields).encode(), given)


class LocalStore:
    """The embedded object store: a directory with one folder per bucket.

    Object ETags are MD5s (multipart: MD5 of the part MD5s) kept in an extended attribute when
    the file system allows it, else a weak ``mtime-size`` tag. Multipart uploads keep their
    parts under ``<root>/.ma-multipart/<upload id>/`` until completed or aborted.
    """

    kind = "embedded"
    #: Parts are written and hashed here, on this machine: nothing crosses a network.
    payload_protected = True

    def __init__(
        self, root: str | Path, signer: PresignSigner | None = None, url_prefix: str = ""
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.signer = signer
        #: URL path of the server's store handler, e.g. ``/ma-notebook/obs-store``.
        self.url_prefix = url_prefix.rstrip("/")

    # -- paths
    def _bucket_dir(self, bucket: str, must_exist: bool = True) -> Path:
        if not valid_bucket(bucket):
            raise ObsError(f"Invalid bucket name {bucket!r}.", 400, "bad_bucket_name")
        path = self.root / bucket
        if must_exist and not path.is_dir():
            raise ObsNotFound(f"The bucket does not exist (obs://{bucket}).", "no_such_bucket")
        return path

    def _path(self, bucket: str, key: str) -> Path:
        parts = [p for p in key.split("/") if p]
        if any(p in (".", "..") or p.startswith(_HIDDEN) for p in parts):
            raise ObsError(f"Invalid object key {key!r}.", 400, "bad_key")
        return self._bucket_dir(bucket).joinpath(*parts)

    @staticmethod
    def _etag(path: Path, st: os.stat_result) -> str:
        with contextlib.suppress(OSError, ValueError):
            raw = os.getxattr(path, _XATTR).decode()
            etag, mtime, size = raw.split("|")
            if int(mtime) == st.st_mtime_ns and int(size) == st.st_size:
                return etag
        return f"{st.st_mtime_ns:x}-{st.st_size:x}"

    @staticmethod
    def _set_etag(path: Path, etag: str) -> None:
        with contextlib.suppress(OSError):
            st = path.stat()
            os.setxattr(path, _XATTR, f"{etag}|{st.st_mtime_ns}|{st.st_size}".encode())

    def _write_atomic(self, target: Path, chunks: Iterable[bytes], digest: bool = True) -> str:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_dir():
            raise ObsError(f"A folder already has this name: {target.name}.", 409, "is_folder")
        tmp = target.with_name(f"{_HIDDEN}tmp-{secrets.token_hex(6)}")
        md5 = hashlib.md5()  # noqa: S324 - S3 ETag semantics, not security
        try:
            with open(tmp, "wb") as f:
                for chunk in chunks:
                    if digest:
                        md5.update(chunk)
                    f.write(chunk)
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        etag = md5.hexdigest()
        if digest:
            self._set_etag(target, etag)
        return etag

    # -- buckets and listing
    def list_buckets(self) -> list[ObjectInfo]:
        """Every bucket folder."""
        out = []
        for entry in sorted(os.scandir(self.root), key=lambda e: e.name):
            if entry.is_dir() and valid_bucket(entry.name):
                out.append(ObjectInfo(entry.name, is_dir=True, last_modified=entry.stat().st_mtime))
        return out

    def create_bucket(self, bucket: str) -> None:
        """Create a bucket folder (409 when it exists)."""
        path = self._bucket_dir(bucket, must_exist=False)
        if path.exists():
            raise ObsError(f"The bucket already exists (obs://{bucket}).", 409, "bucket_exists")
        path.mkdir(parents=True)

    def _iter_keys(self, bucket: str, prefix: str, delimiter: str) -> Iterator[ObjectInfo]:
        base = self._bucket_dir(bucket)
        dir_part, _, name_prefix = prefix.rpartition("/")
        directory = base.joinpath(*[p for p in dir_part.split("/") if p]) if dir_part else base
        if not directory.is_dir():
            return
        lead = f"{dir_part}/" if dir_part else ""
        if delimiter:
            for entry in sorted(os.scandir(directory), key=lambda e: e.name):
                if entry.name.startswith(_HIDDEN) or not entry.name.startswith(name_prefix):
                    continue
                st = entry.stat()
                if entry.is_dir():
                    yield ObjectInfo(f"{lead}{entry.name}/", is_dir=True, last_modified=st.st_mtime)
                else:
                    yield ObjectInfo(
                        f"{lead}{entry.name}",
                        st.st_size,
                        self._etag(Path(entry.path), st),
                        st.st_mtime,
                    )
            return
        found: list[ObjectInfo] = []
        for dirpath, dirnames, filenames in os.walk(directory):
            rel = os.path.relpath(dirpath, base).replace(os.sep, "/")
            rel = "" if rel == "." else rel + "/"
            dirnames[:] = [d for d in dirnames if not d.startswith(_HIDDEN)]
            names = [f for f in filenames if not f.startswith(_HIDDEN)]
            if rel and not names and not dirnames and rel.startswith(prefix):
                found.append(ObjectInfo(rel, is_dir=True, last_modified=os.stat(dirpath).st_mtime))
            for name in names:
                key = rel + name
                if key.startswith(prefix):
                    p = Path(dirpath, name)
                    st = p.stat()
                    found.append(ObjectInfo(key, st.st_size, self._etag(p, st), st.st_mtime))
        yield from sorted(found, key=lambda i: i.key)

    def list_objects(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "/",
        token: str | None = None,
        limit: int = 1000,
    ) -> ListPage:
        """One page of keys under ``prefix`` (``token`` is the last key of the previous page)."""
        entries: list[ObjectInfo] = []
        for info in self._iter_keys(bucket, prefix, delimiter):
            if token and info.key <= token:
                continue
            if len(entries) == limit:
                return ListPage(entries, entries[-1].key)
            entries.append(info)
        return ListPage(entries, None)

    def head(self, bucket: str, key: str) -> ObjectInfo:
        """Size, ETag and time of one object (a folder marker when ``key`` ends with '/')."""
        path = self._path(bucket, key)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise ObsNotFound(
                f"The object does not exist ({ObsPath(bucket, key)}).", "no_such_key"
            ) from None
        if path.is_dir() != key.endswith("/") and key:
            raise ObsNotFound(f"The object does not exist ({ObsPath(bucket, key)}).", "no_such_key")
        return ObjectInfo(
            key,
            0 if path.is_dir() else st.st_size,
            "" if path.is_dir() else self._etag(path, st),
            st.st_mtime,
            is_dir=path.is_dir(),
        )

    def get_range(
        self, bucket: str, key: str, start: int, end: int | None, if_match: str | None = None
    ) -> tuple[bytes, ObjectInfo]:
        """Bytes ``start..end`` (inclusive) and the object's info."""
        info = self.head(bucket, key)
        if info.is_dir:
            raise ObsNotFound(f"{ObsPath(bucket, key)} is a folder.", "no_such_key")
        if if_match and info.etag != if_match:
            raise ObsError(
                f"{ObsPath(bucket, key)} changed during the transfer; start again.", 409, "changed"
            )
        stop = info.size if end is None else min(end + 1, info.size)
        with open(self._path(bucket, key), "rb") as f:
            data = os.pread(f.fileno(), max(0, stop - start), start)
        return data, info

    def open_read(self, bucket: str, key: str) -> Path:
        """The file holding an object (for streaming it out)."""
        info = self.head(bucket, key)
        if info.is_dir:
            raise ObsNotFound(f"{ObsPath(bucket, key)} is a folder.", "no_such_key")
        return self._path(bucket, key)

    def put(
        self, bucket: str, key: str, data: bytes, metadata: dict[str, str] | None = None
    ) -> str:
        """Write one object (a folder when ``key`` ends with '/'); returns its ETag."""
        path = self._path(bucket, key)
        if key.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            return hashlib.md5(b"").hexdigest()  # noqa: S324
        return self._write_atomic(path, [data])

    def copy(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str) -> None:
        """Copy one object inside the store."""
        src = self.open_read(src_bucket, src_key)
        info = self.head(src_bucket, src_key)
        dst = self._path(dst_bucket, dst_key)
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f"{_HIDDEN}tmp-{secrets.token_hex(6)}")
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        if is_md5_etag(info.etag):
            self._set_etag(dst, info.etag)

    def delete(self, bucket: str, keys: list[str]) -> None:
        """Delete objects and folder markers (missing ones are fine)."""
        base = self._bucket_dir(bucket)
        for key in keys:
            path = self._path(bucket, key)
            with contextlib.suppress(FileNotFoundError):
                if key.endswith("/"):
                    with contextlib.suppress(OSError):
                        path.rmdir()
                elif path.is_file():
                    path.unlink()
            # like S3, a folder with no objects left disappears
            parent = path.parent
            while parent != base and parent.is_dir():
                try:
                    parent.rmdir()
                except OSError:
                    break
                parent = parent.parent

    # -- multipart
    def _upload_dir(self, upload_id: str, bucket: str, key: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{32}", upload_id or ""):
            raise ObsNotFound("The multipart upload does not exist.", "no_such_upload")
        d = self.root / f"{_HIDDEN}multipart" / upload_id
        try:
            meta = json.loads((d / "meta.json").read_text())
        except (OSError, ValueError):
            raise ObsNotFound(
                "The multipart upload does not exist (completed or aborted).", "no_such_upload"
            ) from None
        if meta.get("bucket") != bucket or meta.get("key") != key:
            raise ObsNotFound("The multipart upload is for another object.", "no_such_upload")
        return d

    def create_multipart(
        self, bucket: str, key: str, metadata: dict[str, str] | None = None
    ) -> str:
        """Start a multipart upload; returns its id."""
        self._path(bucket, key)  # validates bucket and key
        upload_id = secrets.token_hex(16)
        d = self.root / f"{_HIDDEN}multipart" / upload_id
        d.mkdir(parents=True)
        (d / "meta.json").write_text(
            json.dumps(
                {"bucket": bucket, "key": key, "metadata": metadata or {}, "created": time.time()}
            )
        )
        return upload_id

    def part_writer(self, bucket: str, key: str, upload_id: str, part_number: int) -> PartWriter:
        """A writer for one part, for streaming request bodies."""
        if not 1 <= part_number <= 10000:
            raise ObsError("Part numbers go from 1 to 10000.", 400, "bad_part_number")
        return PartWriter(self._upload_dir(upload_id, bucket, key), part_number)

    def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, data: bytes
    ) -> str:
        """Store one part; returns its MD5 ETag."""
        writer = self.part_writer(bucket, key, upload_id, part_number)
        writer.write(data)
        return writer.commit()

    def list_parts(self, bucket: str, key: str, upload_id: str) -> dict[int, tuple[str, int]]:
        """Uploaded parts: number -> (ETag, size)."""
        d = self._upload_dir(upload_id, bucket, key)
        parts = {}
        for p in d.glob("*.part"):
            with contextlib.suppress(OSError, ValueError):
                parts[int(p.stem)] = (p.with_suffix(".etag").read_text(), p.stat().st_size)
        return parts

    def list_multipart_uploads(self, bucket: str, prefix: str) -> list[tuple[str, str, float]]:
        """Unfinished multipart uploads under ``prefix``: (key, upload id, created time)."""
        uploads = []
        for d in sorted((self.root / f"{_HIDDEN}multipart").glob("*")):
            with contextlib.suppress(OSError, ValueError):
                meta = json.loads((d / "meta.json").read_text())
                if meta.get("bucket") == bucket and str(meta.get("key", "")).startswith(prefix):
                    uploads.append((str(meta["key"]), d.name, float(meta.get("created", 0))))
        return uploads

    def complete_multipart(
        self, bucket: str, key: str, upload_id: str, parts: list[tuple[int, str]]
    ) -> str:
        """Join the listed parts into the object; returns its multipart ETag."""
        d = self._upload_dir(upload_id, bucket, key)
        have = self.list_parts(bucket, key, upload_id)
        ordered = sorted(parts)
        if not ordered:
            raise ObsError("A multipart upload needs at least one part.", 400, "no_parts")
        for n, etag in ordered:
            if n not in have or have[n][0] != etag.strip('"'):
                raise ObsError(
                    f"Part {n} is missing or its ETag does not match.", 400, "invalid_part"
                )
        files = [d / f"{n:05d}.part" for n, _ in ordered]

        def chunks() -> Iterator[bytes]:
            for path in files:
                with open(path, "rb") as f:
                    while chunk := f.read(8 << 20):
                        yield chunk

        target = self._path(bucket, key)
        self._write_atomic(target, chunks(), digest=False)
        etag = multipart_etag(e.strip('"') for _, e in ordered)
        self._set_etag(target, etag)
        shutil.rmtree(d, ignore_errors=True)
        return etag

    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        """Drop a multipart upload and its parts."""
        with contextlib.suppress(ObsNotFound):
            shutil.rmtree(self._upload_dir(upload_id, bucket, key), ignore_errors=True)

    # -- presigned URLs (served by the notebook server's store handler)
    def _presign(self, bucket: str, key: str, params: dict[str, str], expires: int) -> str:
        if not self.signer or not self.url_prefix:
            raise ObsError(
                "Presigned URLs of the embedded store are served by the notebook server; "
                "create them through its OBS service.",
                400,
                "no_presign",
            )
        exp = str(int(time.time()) + int(expires))
        fields = [
            params.get("op", ""),
            bucket,
            key,
            params.get("uploadId", ""),
            params.get("partNumber", ""),
            params.get("filename", ""),
        ]
        query = dict(params, expires=exp, signature=self.signer.sign(exp, *fields))
        return f"{self.url_prefix}/{bucket}/{quote(key)}?{urlencode(query)}"

    def presign_get(self, bucket: str, key: str, expires: int, filename: str | None = None) -> str:
        """A signed, expiring GET URL (relative to the notebook server)."""
        params = {"op": "get"}
        if filename:
            params["filename"] = filename
        return self._presign(bucket, key, params, expires)

    def presign_upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, expires: int
    ) -> str:
        """A signed, expiring PUT URL for one part (relative to the notebook server)."""
        self._upload_dir(upload_id, bucket, key)
        return self._presign(
            bucket,
            key,
            {"op": "part", "uploadId": upload_id, "partNumber": str(part_number)},
            expires,
        )

    def verify(self, query: dict[str, str], bucket: str, key: str) -> bool:
        """Whether a request's query carries a valid, unexpired signature for this object."""
        if not self.signer:
            return False
        fields = [
            query.get("op", ""),
            bucket,
            key,
            query.get("uploadId", ""),
            query.get("partNumber", ""),
            query.get("filename", ""),
        ]
        return self.signer.verify(query.get("signature", ""), query.get("expires", ""), *fields)


class PartWriter:
    """Writes one multipart part to a temp file and commits it with its MD5 ETag."""

    def __init__(self, upload_dir: Path, part_number: int) -> None:
        self.path = upload_dir / f"{part_number:05d}.part"
        self._tmp = upload_dir / f"{part_number:05d}.{secrets.token_hex(4)}.tmp"
        self._f = open(self._tmp, "wb")  # noqa: SIM115 - closed in commit/abort
        self._md5 = hashlib.md5()  # noqa: S324
        self.size = 0

    def write(self, chunk: bytes) -> None:
        """Append a chunk."""
        self._md5.update(chunk)
        self._f.write(chunk)
        self.size += len(chunk)

    def commit(self) -> str:
        """Make the part visible; returns its ETag (MD5 hex)."""
        self._f.close()
        etag = self._md5.hexdigest()
        os.replace(self._tmp, self.path)
        self.path.with_suffix(".etag").write_text(etag)
        return etag

    def abort(self) -> None:
        """Throw the partial part away."""
        self._f.close()
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()


def open_store(
    settings: ObsSettings,
    *,
    signer: PresignSigner | None = None,
    url_prefix: str = "",
    max_connections: int = 64,
) -> ObjectStore:
    """The store these settings describe: an endpoint, or the embedded local store."""
    if settings.mode == "endpoint":
        return S3Store(settings, max_connections=max_connections)
    return LocalStore(settings.local_root, signer=signer, url_prefix=url_prefix)
