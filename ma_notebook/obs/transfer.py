"""The transfer engine: parallel multipart uploads, parallel ranged downloads, tree copies.

Small objects go many at a time (``concurrency`` in flight, one request each: a single ranged
GET answers both "how big" and "what", no HEAD). Big objects go in parts (``part_concurrency``
in flight), the part size growing so an object never needs more than 10,000 parts. Every
transfer checks size and, when the object's ETag is an MD5 (or the MD5 of part MD5s), the
checksum; downloads land in a temp file that is renamed into place only when complete and
verified. An interrupted transfer resumes where it stopped (a state file beside the temp
file for downloads, one per upload under ``state_dir``); a cancelled one leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import random
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ObsCancelled, ObsError, ObsNotFound
from .paths import ObsPath, is_obs
from .store import PART_SIZE_META, ObjectInfo, ObjectStore, is_md5_etag, multipart_etag

MiB = 1 << 20
MAX_PARTS = 10_000
#: Smallest part size accepted (OBS allows 100 KB; S3 needs 5 MiB, set part_size accordingly).
MIN_PART = 128 * 1024
#: Failures worth retrying (with backoff) on top of botocore's own connection retries.
TRANSIENT = ("timeout", "store_failed")

ProgressCallback = Callable[[int, "int | None"], None]
Location = str | ObsPath


def choose_part_size(size: int, minimum: int = 16 * MiB) -> int:
    """The part size for an object of ``size`` bytes: ``minimum``, grown to fit 10,000 parts."""
    part = max(minimum, MIN_PART)
    if size > part * MAX_PARTS:
        part = math.ceil(size / MAX_PARTS / MiB) * MiB
    return part


def md5_hex(data: bytes) -> str:
    """MD5 hex digest (S3 ETag semantics, not security)."""
    return hashlib.md5(data).hexdigest()  # noqa: S324


class Meter:
    """Thread-safe byte counter that reports ``(done, total)`` at most every ``interval`` s."""

    def __init__(
        self, callback: ProgressCallback | None, total: int | None = None, interval: float = 0.1
    ) -> None:
        self.callback = callback
        self.total = total
        self.done = 0
        self.files = 0
        self._interval = interval
        self._last = 0.0
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        """Count ``n`` more bytes."""
        if n <= 0:
            return
        with self._lock:
            self.done += n
            now = time.monotonic()
            finished = self.total is not None and self.done >= self.total
            if self.callback is None or (now - self._last < self._interval and not finished):
                return
            self._last = now
            done, total = self.done, self.total
        self.callback(done, total)

    def flush(self) -> None:
        """Report the final count."""
        if self.callback is not None:
            self.callback(self.done, self.total)


@dataclass
class TransferResult:
    """What a copy moved."""

    files: int
    bytes: int

    def to_json(self) -> dict[str, int]:
        """JSON form."""
        return {"files": self.files, "bytes": self.bytes}


def discarding(cancel: threading.Event | None) -> bool:
    """Whether a cancelled transfer should remove its partial state (not when it is suspended).

    A server stopping a task it will resume sets ``cancel.keep = True`` before ``cancel.set()``.
    """
    return cancel is not None and cancel.is_set() and not getattr(cancel, "keep", False)


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise ObsCancelled()


class TransferEngine:
    """Moves bytes between local files and one object store, in parallel, with verification."""

    def __init__(
        self,
        store: ObjectStore,
        *,
        concurrency: int = 32,
        part_concurrency: int = 8,
        part_size: int = 16 * MiB,
        multipart_threshold: int = 32 * MiB,
        retries: int = 4,
        state_dir: str | Path | None = None,
    ) -> None:
        self.store = store
        self.concurrency = max(1, concurrency)
        self.part_concurrency = max(1, part_concurrency)
        self.part_size = max(MIN_PART, part_size)
        self.multipart_threshold = max(self.part_size, multipart_threshold)
        self.retries = max(1, retries)
        self.state_dir = Path(state_dir) if state_dir else None
        self._files: ThreadPoolExecutor | None = None
        self._parts: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    # -- pools
    @property
    def _file_pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._files is None:
                self._files = ThreadPoolExecutor(self.concurrency, "obs-file")
            return self._files

    @property
    def _part_pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._parts is None:
                self._parts = ThreadPoolExecutor(self.part_concurrency, "obs-part")
            return self._parts

    def close(self) -> None:
        """Stop the worker threads."""
        for pool in (self._files, self._parts):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        self._files = self._parts = None

    def _retry(self, cancel: threading.Event | None, fn: Callable[..., Any], *args: Any) -> Any:
        for attempt in range(self.retries):
            _check(cancel)
            try:
                return fn(*args)
            except ObsError as e:
                if e.reason not in TRANSIENT or attempt == self.retries - 1:
                    raise
            delay = min(5.0, 0.2 * 2**attempt) * (0.5 + random.random())
            if cancel is not None:
                cancel.wait(delay)
            else:
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _run_parts(
        self,
        jobs: list[Callable[[threading.Event], None]],
        cancel: threading.Event | None,
        pool: ThreadPoolExecutor,
    ) -> None:
        """Run jobs in ``pool``; the first failure stops the others and is raised."""
        stop = threading.Event()
        if cancel is not None and cancel.is_set():
            raise ObsCancelled()

        def run(job: Callable[[threading.Event], None]) -> None:
            if stop.is_set():
                raise ObsCancelled()
            job(stop)

        watcher: threading.Thread | None = None
        if cancel is not None:

            def watch() -> None:
                while not stop.is_set():
                    if cancel.wait(0.05):
                        stop.set()

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
        futures: list[Future[None]] = [pool.submit(run, job) for job in jobs]
        try:
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            errors = [f.exception() for f in done if f.exception() is not None]
            if errors:
                stop.set()
                for f in pending:
                    f.cancel()
                wait(pending)
                real = [e for e in errors if not isinstance(e, ObsCancelled)]
                raise (real[0] if real else errors[0])  # type: ignore[misc]
        finally:
            stop.set()
            if watcher is not None:
                watcher.join()
        _check(cancel)

    # -- uploads
    def upload_file(
        self,
        local_path: str | Path,
        dst: ObsPath,
        *,
        progress: ProgressCallback | Meter | None = None,
        cancel: threading.Event | None = None,
    ) -> str:
        """Upload one file; returns the object's ETag."""
        meter = progress if isinstance(progress, Meter) else Meter(progress)
        path = Path(local_path)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise ObsNotFound(f"No such local file: {path}") from None
        if meter.total is None:
            meter.total = st.st_size
        if st.st_size <= self.multipart_threshold:
            _check(cancel)
            data = path.read_bytes()
            etag = self._retry(cancel, self.store.put, dst.bucket, dst.key, data, None)
            if is_md5_etag(etag) and "-" not in etag and etag != md5_hex(data):
                raise ObsError(
                    f"Integrity check failed uploading {dst}: the ETag does not match "
                    "the file's MD5; try again.",
                    502,
                    "checksum",
                )
            meter.add(len(data))
        else:
            etag = self._upload_multipart(path, st, dst, meter, cancel)
        if not isinstance(progress, Meter):
            meter.flush()
        return str(etag)

    def _state_file(self, kind: str, *parts: Any) -> Path | None:
        if self.state_dir is None:
            return None
        digest = hashlib.sha256("\n".join(map(str, parts)).encode()).hexdigest()[:32]
        return self.state_dir / f"{kind}-{digest}.json"

    def _upload_multipart(
        self,
        path: Path,
        st: os.stat_result,
        dst: ObsPath,
        meter: Meter,
        cancel: threading.Event | None,
    ) -> str:
        size = st.st_size
        part_size = choose_part_size(size, self.part_size)
        count = math.ceil(size / part_size)
        state_path = self._state_file(
            "upload", path.resolve(), size, st.st_mtime_ns, dst, part_size
        )
        md5s: dict[int, str] = {}
        upload_id = ""
        if state_path is not None and state_path.exists():
            with contextlib.suppress(OSError, ValueError, ObsError):
                saved = json.loads(state_path.read_text())
                remote = self.store.list_parts(dst.bucket, dst.key, saved["upload_id"])
                upload_id = saved["upload_id"]
                for n, md5 in saved.get("parts", {}).items():
                    if remote.get(int(n), ("",))[0] == md5:
                        md5s[int(n)] = md5
        if not upload_id:
            upload_id = self._retry(
                cancel,
                self.store.create_multipart,
                dst.bucket,
                dst.key,
                {PART_SIZE_META: str(part_size)},
            )
        lock = threading.Lock()

        def save() -> None:
            if state_path is None:
                return
            state_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = state_path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"upload_id": upload_id, "parts": md5s}))
            os.replace(tmp, state_path)

        save()
        meter.add(sum(min(part_size, size - (n - 1) * part_size) for n in md5s))
        # Bodies the store checks on arrival (SigV4-signed payload, TLS, a local store) need no
        # MD5 of our own on the critical path: the store's part ETags are recorded as they are.
        protected = bool(getattr(self.store, "payload_protected", False))
        fd = os.open(path, os.O_RDONLY)

        def part_job(n: int) -> Callable[[threading.Event], None]:
            def job(stop: threading.Event) -> None:
                offset = (n - 1) * part_size
                data = os.pread(fd, min(part_size, size - offset), offset)
                etag = self._retry(
                    stop, self.store.upload_part, dst.bucket, dst.key, upload_id, n, data
                )
                if not protected or not etag:
                    # an unprotected body: the part's MD5 ETag is the only integrity check
                    digest = md5_hex(data)
                    if is_md5_etag(etag) and etag != digest:
                        raise ObsError(
                            f"Integrity check failed on part {n} of {dst}; try again.",
                            502,
                            "checksum",
                        )
                    etag = etag or digest
                with lock:
                    md5s[n] = etag
                    save()
                meter.add(len(data))

            return job

        try:
            jobs = [part_job(n) for n in range(1, count + 1) if n not in md5s]
            self._run_parts(jobs, cancel, self._part_pool)
        except ObsCancelled:
            if discarding(cancel):
                with contextlib.suppress(ObsError):
                    self.store.abort_multipart(dst.bucket, dst.key, upload_id)
                if state_path is not None:
                    state_path.unlink(missing_ok=True)
            raise
        finally:
            os.close(fd)
        ordered = [(n, md5s[n]) for n in range(1, count + 1)]
        etag = self._retry(
            cancel, self.store.complete_multipart, dst.bucket, dst.key, upload_id, ordered
        )
        if state_path is not None:
            state_path.unlink(missing_ok=True)
        expected = multipart_etag(m for _, m in ordered)
        if is_md5_etag(etag) and etag != expected:
            raise ObsError(
                f"Integrity check failed for {dst}: the object's ETag does not match "
                "the uploaded parts; upload it again.",
                502,
                "checksum",
            )
        return str(etag)

    # -- downloads
    def _aligned_part_size(self, info: ObjectInfo) -> tuple[int, bool]:
        """The part size matching the object's multipart ETag, and whether it is known."""
        meta = info.metadata.get(PART_SIZE_META)
        if meta and meta.isdigit() and int(meta) > 0:
            return int(meta), True
        if "-" in info.etag and is_md5_etag(info.etag):
            parts = int(info.etag.rsplit("-", 1)[1])
            if parts == 1:
                return max(info.size, 1), True
            candidates = [
                self.part_size,
                choose_part_size(info.size, self.part_size),
                8 * MiB,
                5 * MiB,
                16 * MiB,
                15 * MiB,
                32 * MiB,
                64 * MiB,
                100 * MiB,
            ]
            for c in candidates:
                if math.ceil(info.size / c) == parts and info.size > (parts - 1) * c:
                    return c, True
        return choose_part_size(info.size, self.part_size), False

    @staticmethod
    def _verify(info: ObjectInfo, part_md5s: list[str], tmp: Path, aligned: bool) -> None:
        etag = info.etag
        if not is_md5_etag(etag):
            return
        if "-" in etag:
            if aligned and multipart_etag(part_md5s) != etag:
                raise ObsError(
                    f"Integrity check failed: the downloaded data does not match the "
                    f"object's ETag ({info.key}); download it again.",
                    502,
                    "checksum",
                )
            return
        if len(part_md5s) == 1:
            actual = part_md5s[0]
        else:
            h = hashlib.md5()  # noqa: S324
            with open(tmp, "rb") as f:
                while chunk := f.read(8 * MiB):
                    h.update(chunk)
            actual = h.hexdigest()
        if actual != etag:
            raise ObsError(
                f"Integrity check failed: the downloaded data does not match the "
                f"object's MD5 ({info.key}); download it again.",
                502,
                "checksum",
            )

    def download_file(
        self,
        src: ObsPath,
        local_path: str | Path,
        *,
        progress: ProgressCallback | Meter | None = None,
        cancel: threading.Event | None = None,
        resume: bool = True,
    ) -> ObjectInfo:
        """Download one object to ``local_path`` (temp file, verify, atomic rename)."""
        meter = progress if isinstance(progress, Meter) else Meter(progress)
        dest = Path(local_path)
        if dest.is_dir():
            raise ObsError(f"{dest} is a folder; give a file name.", 409, "is_folder")
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.ma-download")
        state_path = tmp.with_name(tmp.name + ".json")
        state: dict[str, Any] | None = None
        info: ObjectInfo | None = None
        first: bytes | None = None
        if resume and tmp.exists() and state_path.exists():
            with contextlib.suppress(OSError, ValueError, KeyError):
                state = json.loads(state_path.read_text())
                info = self._retry(cancel, self.store.head, src.bucket, src.key)
                assert info is not None
                if info.etag != state["etag"] or info.size != state["size"]:
                    state = None
        if state is None:
            tmp.unlink(missing_ok=True)
            state_path.unlink(missing_ok=True)
            first, info = self._retry(
                cancel, self.store.get_range, src.bucket, src.key, 0, self.part_size - 1, None
            )
        assert info is not None
        if meter.total is None:
            meter.total = info.size
        try:
            if first is not None and len(first) >= info.size:
                part_size, aligned = self._aligned_part_size(info)
                if "-" not in info.etag:
                    part_size, aligned = max(1, info.size), True
                md5s = [
                    md5_hex(first[i : i + part_size])
                    for i in range(0, max(1, len(first)), part_size)
                ]
                self._verify(info, md5s, tmp, aligned)
                with open(tmp, "wb") as f:
                    f.write(first)
                os.replace(tmp, dest)
                meter.add(len(first))
                return info
            self._download_parts(src, info, tmp, state_path, state, first, meter, cancel)
            os.replace(tmp, dest)
            state_path.unlink(missing_ok=True)
        except ObsCancelled:
            if discarding(cancel):
                tmp.unlink(missing_ok=True)
                state_path.unlink(missing_ok=True)
            raise
        except ObsError as e:
            if e.reason in ("checksum", "changed"):
                tmp.unlink(missing_ok=True)
                state_path.unlink(missing_ok=True)
            raise
        finally:
            if not isinstance(progress, Meter):
                meter.flush()
        return info

    def _download_parts(
        self,
        src: ObsPath,
        info: ObjectInfo,
        tmp: Path,
        state_path: Path,
        state: dict[str, Any] | None,
        first: bytes | None,
        meter: Meter,
        cancel: threading.Event | None,
    ) -> None:
        if state is None:
            part_size, aligned = self._aligned_part_size(info)
            state = {
                "etag": info.etag,
                "size": info.size,
                "part_size": part_size,
                "aligned": aligned,
                "parts": {},
            }
            with open(tmp, "wb") as f:
                f.truncate(info.size)
        part_size = int(state["part_size"])
        aligned = bool(state["aligned"])
        md5s: dict[int, str] = {int(k): v for k, v in state["parts"].items()}
        count = max(1, math.ceil(info.size / part_size))
        lock = threading.Lock()
        last_save = [0.0]

        def save(force: bool = False) -> None:
            now = time.monotonic()
            if not force and now - last_save[0] < 0.5:
                return
            last_save[0] = now
            state["parts"] = {str(k): v for k, v in md5s.items()}
            t = state_path.with_name(state_path.name + ".tmp")
            t.write_text(json.dumps(state))
            os.replace(t, state_path)

        save(force=True)
        meter.add(sum(min(part_size, info.size - (n - 1) * part_size) for n in md5s))
        fd = os.open(tmp, os.O_WRONLY)
        try:
            if first is not None and len(first) == part_size and 1 not in md5s:
                os.pwrite(fd, first, 0)
                md5s[1] = md5_hex(first)
                meter.add(len(first))

            def part_job(n: int) -> Callable[[threading.Event], None]:
                def job(stop: threading.Event) -> None:
                    start = (n - 1) * part_size
                    end = min(info.size, start + part_size) - 1
                    data, _ = self._retry(
                        stop,
                        self.store.get_range,
                        src.bucket,
                        src.key,
                        start,
                        end,
                        info.etag or None,
                    )
                    if len(data) != end - start + 1:
                        raise ObsError(
                            f"Short read on {src} (part {n}); try again.", 502, "store_failed"
                        )
                    os.pwrite(fd, data, start)
                    digest = md5_hex(data)
                    with lock:
                        md5s[n] = digest
                        save()
                    meter.add(len(data))

                return job

            try:
                jobs = [part_job(n) for n in range(1, count + 1) if n not in md5s]
                self._run_parts(jobs, cancel, self._part_pool)
            finally:
                with lock:
                    save(force=True)
        finally:
            os.close(fd)
        if os.path.getsize(tmp) != info.size:
            raise ObsError(f"Size check failed for {src}; download it again.", 502, "checksum")
        self._verify(info, [md5s[n] for n in range(1, count + 1)], tmp, aligned)

    # -- copies between any two locations
    def copy_file(
        self,
        src: Location,
        dst: Location,
        *,
        progress: ProgressCallback | Meter | None = None,
        cancel: threading.Event | None = None,
    ) -> int:
        """Copy one file/object; returns its size."""
        meter = progress if isinstance(progress, Meter) else Meter(progress)
        if isinstance(src, ObsPath) and isinstance(dst, ObsPath):
            info = self._retry(cancel, self.store.head, src.bucket, src.key)
            self._retry(cancel, self.store.copy, src.bucket, src.key, dst.bucket, dst.key)
            meter.add(info.size)
            size = info.size
        elif isinstance(src, ObsPath):
            size = self.download_file(src, str(dst), progress=meter, cancel=cancel).size
        elif isinstance(dst, ObsPath):
            size = os.path.getsize(src)
            self.upload_file(src, dst, progress=meter, cancel=cancel)
        else:
            _check(cancel)
            Path(dst).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            size = os.path.getsize(dst)
            meter.add(size)
        meter.files += 1
        if not isinstance(progress, Meter):
            meter.flush()
        return size

    def iter_tree(self, src: Location) -> Iterator[tuple[str, int]]:
        """(relative path, size) of every file below a folder; empty folders end with '/'."""
        if isinstance(src, ObsPath):
            prefix = src.as_folder()
            token = None
            while True:
                page = self.store.list_objects(prefix.bucket, prefix.key, "", token, 1000)
                for info in page.entries:
                    rel = info.key[len(prefix.key) :]
                    if rel:
                        yield rel, info.size
                token = page.next_token
                if not token:
                    return
        else:
            base = Path(src)
            for dirpath, dirnames, filenames in os.walk(base):
                dirnames.sort()
                rel = os.path.relpath(dirpath, base)
                rel = "" if rel == "." else rel.replace(os.sep, "/") + "/"
                if rel and not dirnames and not filenames:
                    yield rel, 0
                for name in sorted(filenames):
                    yield rel + name, os.path.getsize(os.path.join(dirpath, name))

    def copy_tree(
        self,
        src: Location,
        dst: Location,
        *,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> TransferResult:
        """Copy a folder's contents into ``dst`` (like shutil.copytree), many files at once."""
        items = list(self.iter_tree(src))
        if not items and isinstance(src, str) and not os.path.isdir(src):
            raise ObsNotFound(f"No such folder: {src}")
        if not items and isinstance(src, ObsPath):
            raise ObsNotFound(f"No such folder: {src}")
        meter = Meter(progress, total=sum(size for _, size in items))
        if meter.callback:
            meter.callback(0, meter.total)

        def target(base: Location, rel: str) -> Location:
            if isinstance(base, ObsPath):
                return base.child(rel)
            return os.path.join(str(base), *rel.split("/"))

        def job_for(rel: str) -> Callable[[threading.Event], None]:
            def job(stop: threading.Event) -> None:
                s, d = target(src, rel), target(dst, rel)
                if rel.endswith("/"):
                    if isinstance(d, ObsPath):
                        self._retry(stop, self.store.put, d.bucket, d.key, b"", None)
                    else:
                        os.makedirs(d, exist_ok=True)
                    return
                self.copy_file(s, d, progress=meter, cancel=stop)

            return job

        if not isinstance(dst, ObsPath):
            os.makedirs(dst, exist_ok=True)
        self._run_parts([job_for(rel) for rel, _ in items], cancel, self._file_pool)
        meter.flush()
        return TransferResult(files=meter.files, bytes=meter.done)

    def is_folder(self, loc: Location) -> bool:
        """Whether a location is a folder (local dir, or an OBS prefix with objects)."""
        if not isinstance(loc, ObsPath):
            return os.path.isdir(loc)
        if loc.is_root:
            return True
        if not loc.key:
            return True
        if loc.key.endswith("/"):
            page = self.store.list_objects(loc.bucket, loc.key, "/", None, 1)
            return bool(page.entries) or self._exists(loc)
        if self._exists(loc):
            return False
        return bool(self.store.list_objects(loc.bucket, loc.key + "/", "/", None, 1).entries)

    def _exists(self, loc: ObsPath) -> bool:
        try:
            self.store.head(loc.bucket, loc.key)
            return True
        except ObsNotFound:
            return False

    def copy(
        self,
        src: Location,
        dst: Location,
        *,
        drop_last_dir: bool = False,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> TransferResult:
        """ma-cli obs-copy semantics: a file into a file or folder ('/'), a folder into a folder.

        A folder lands as ``dst/<last dir of src>/...`` unless ``drop_last_dir`` puts its
        contents directly into ``dst``.
        """
        for loc in (src, dst):
            if isinstance(loc, ObsPath) and loc.is_root:
                raise ObsError(
                    "obs:// names no bucket: use obs://<bucket>/<path>, e.g. obs://my-bucket/data/.",
                    400,
                    "no_bucket",
                )
        if self.is_folder(src):
            if not drop_last_dir:
                name = src.name if isinstance(src, ObsPath) else Path(str(src).rstrip("/")).name
                dst = (
                    dst.child(name + "/")
                    if isinstance(dst, ObsPath)
                    else os.path.join(str(dst), name)
                )
            return self.copy_tree(src, dst, progress=progress, cancel=cancel)
        if isinstance(src, str) and not os.path.exists(src):
            raise ObsNotFound(f"No such file or folder: {src}")
        if isinstance(src, ObsPath) and src.is_folder:
            raise ObsNotFound(f"No such folder: {src}")
        name = src.name if isinstance(src, ObsPath) else Path(src).name
        if isinstance(dst, ObsPath):
            if dst.is_folder or self.is_folder(dst):
                dst = dst.child(name)
        elif str(dst).endswith(("/", os.sep)) or os.path.isdir(dst):
            dst = os.path.join(str(dst), name)
        meter = Meter(progress)
        size = self.copy_file(src, dst, progress=meter, cancel=cancel)
        meter.total = size
        meter.flush()
        return TransferResult(files=1, bytes=size)

    # -- leftovers of interrupted transfers
    def discard_download(self, local_path: str | Path) -> None:
        """Remove the partial file (and its resume state) of an unfinished download."""
        dest = Path(local_path)
        tmp = dest.with_name(f".{dest.name}.ma-download")
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".json").unlink(missing_ok=True)

    def discard_upload(self, local_path: str | Path, dst: ObsPath) -> None:
        """Abort the multipart upload (and drop its resume state) of an unfinished upload."""
        path = Path(local_path)
        try:
            st = path.stat()
        except OSError:
            return
        part_size = choose_part_size(st.st_size, self.part_size)
        state_path = self._state_file(
            "upload", path.resolve(), st.st_size, st.st_mtime_ns, dst, part_size
        )
        if state_path is None or not state_path.exists():
            return
        with contextlib.suppress(OSError, ValueError, KeyError, ObsError):
            saved = json.loads(state_path.read_text())
            self.store.abort_multipart(dst.bucket, dst.key, saved["upload_id"])
        state_path.unlink(missing_ok=True)

    def discard_copy(self, src: Location, dst: Location, *, drop_last_dir: bool = False) -> None:
        """Remove what an interrupted :meth:`copy` left (partial files, multipart uploads)."""
        folder = self.is_folder(src)
        if folder and not drop_last_dir:
            name = src.name if isinstance(src, ObsPath) else Path(str(src).rstrip("/")).name
            dst = dst.child(name + "/") if isinstance(dst, ObsPath) else os.path.join(dst, name)
        if not folder:
            name = src.name if isinstance(src, ObsPath) else Path(src).name
            if isinstance(dst, ObsPath):
                if dst.is_folder or self.is_folder(dst):
                    dst = dst.child(name)
            elif str(dst).endswith(("/", os.sep)) or os.path.isdir(dst):
                dst = os.path.join(str(dst), name)
        if isinstance(src, ObsPath) and not isinstance(dst, ObsPath):
            if not folder:
                self.discard_download(dst)
                return
            for dirpath, _dirs, files in os.walk(dst):
                for f in files:
                    if f.endswith((".ma-download", ".ma-download.json")):
                        Path(dirpath, f).unlink(missing_ok=True)
        elif isinstance(dst, ObsPath) and not isinstance(src, ObsPath):
            if not folder:
                self.discard_upload(src, dst)
                return
            for rel, _size in self.iter_tree(src):
                if not rel.endswith("/"):
                    self.discard_upload(os.path.join(src, *rel.split("/")), dst.child(rel))


def location(path: str) -> Location:
    """An ObsPath for obs:// URLs, else the local path expanded (a trailing '/' kept: a folder)."""
    if is_obs(path):
        return ObsPath.parse(path)
    local = os.path.abspath(os.path.expanduser(path))
    if path.endswith(("/", os.sep)) and not local.endswith(os.sep):
        local += os.sep
    return local
