"""The transfer engine: multipart up, ranged parallel down, checksums, resume and cancel."""

from __future__ import annotations

import hashlib
import os
import threading

import pytest

from ma_notebook.obs.config import resolve_settings
from ma_notebook.obs.errors import ObsCancelled, ObsError
from ma_notebook.obs.paths import ObsPath
from ma_notebook.obs.store import LocalStore, is_md5_etag, open_store
from ma_notebook.obs.transfer import MiB, TransferEngine, choose_part_size

PART = 256 * 1024
BIG = 5 * PART + 12345  # six parts


class CountingStore:
    """The real store, counting ranged reads and optionally failing after some of them."""

    def __init__(self, store, fail_after: int | None = None) -> None:
        self._store = store
        self.kind = store.kind
        self.fail_after = fail_after
        self.ranges: list[tuple[int, int | None]] = []
        self.parts: list[int] = []
        self._lock = threading.Lock()

    def __getattr__(self, name):
        return getattr(self._store, name)

    def get_range(self, bucket, key, start, end, if_match=None):
        with self._lock:
            if self.fail_after is not None and len(self.ranges) >= self.fail_after:
                raise ObsError("connection reset by peer (injected)", 400, "interrupted")
            self.ranges.append((start, end))
        return self._store.get_range(bucket, key, start, end, if_match)

    def upload_part(self, bucket, key, upload_id, n, data):
        with self._lock:
            if self.fail_after is not None and len(self.parts) >= self.fail_after:
                raise ObsError("connection reset by peer (injected)", 400, "interrupted")
            self.parts.append(n)
        return self._store.upload_part(bucket, key, upload_id, n, data)


def engine_for(store, tmp_path, **kw) -> TransferEngine:
    return TransferEngine(
        store,
        part_size=PART,
        multipart_threshold=PART,
        part_concurrency=3,
        state_dir=tmp_path / "state",
        **kw,
    )


@pytest.fixture
def big_file(tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(BIG))
    return path


def test_part_size_grows_to_stay_within_10000_parts():
    assert choose_part_size(256 * MiB) == 16 * MiB
    size = 200 * 1024 * MiB  # 200 GiB
    part = choose_part_size(size)
    assert part % MiB == 0 and -(-size // part) <= 10_000 and part > 16 * MiB


def test_multipart_upload_and_ranged_download_verify_checksums(obs_target, big_file, tmp_path):
    store = CountingStore(open_store(resolve_settings()))
    engine = engine_for(store, tmp_path)
    dst = ObsPath("test-bucket", "big/big.bin")
    seen: list[tuple[int, int | None]] = []
    etag = engine.upload_file(big_file, dst, progress=lambda d, t: seen.append((d, t)))
    assert sorted(store.parts) == [1, 2, 3, 4, 5, 6]
    assert etag.endswith("-6") and is_md5_etag(etag)
    assert seen[-1] == (BIG, BIG)

    out = tmp_path / "out" / "big.bin"
    info = engine.download_file(dst, out)
    assert info.size == BIG
    assert (
        hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(big_file.read_bytes()).digest()
    )
    # one ranged GET per part, no HEAD: the first part answers size and ETag
    assert len(store.ranges) == 6 and all(end is not None for _, end in store.ranges)
    assert not list(out.parent.glob(".*ma-download*"))
    engine.close()


def test_small_objects_many_at_once_round_trip(obs_target, tmp_path):
    engine = engine_for(open_store(resolve_settings()), tmp_path)
    src = tmp_path / "many"
    for i in range(40):
        (src / f"d{i % 3}").mkdir(parents=True, exist_ok=True)
        (src / f"d{i % 3}" / f"f{i}.txt").write_text(f"file {i}" * i)
    (src / "empty").mkdir()
    result = engine.copy_tree(str(src), ObsPath("test-bucket", "many/"))
    assert result.files == 40
    back = tmp_path / "back"
    engine.copy_tree(ObsPath("test-bucket", "many/"), str(back))
    for i in range(40):
        assert (back / f"d{i % 3}" / f"f{i}.txt").read_text() == f"file {i}" * i
    assert (back / "empty").is_dir()
    engine.close()


def test_interrupted_download_resumes_where_it_stopped(obs_target, big_file, tmp_path):
    plain = engine_for(open_store(resolve_settings()), tmp_path)
    dst = ObsPath("test-bucket", "resume.bin")
    plain.upload_file(big_file, dst)
    out = tmp_path / "resume.bin"

    flaky = CountingStore(open_store(resolve_settings()), fail_after=3)
    engine = TransferEngine(flaky, part_size=PART, part_concurrency=1, retries=1)
    with pytest.raises(ObsError, match="injected"):
        engine.download_file(dst, out)
    assert not out.exists()
    assert (tmp_path / ".resume.bin.ma-download").exists()

    counting = CountingStore(open_store(resolve_settings()))
    engine2 = TransferEngine(counting, part_size=PART, part_concurrency=2)
    engine2.download_file(dst, out)
    assert out.read_bytes() == big_file.read_bytes()
    assert len(counting.ranges) == 3  # only the parts the first attempt did not finish
    assert not (tmp_path / ".resume.bin.ma-download").exists()
    assert not (tmp_path / ".resume.bin.ma-download.json").exists()


def test_interrupted_upload_resumes_with_the_same_multipart_upload(obs_target, big_file, tmp_path):
    dst = ObsPath("test-bucket", "up-resume.bin")
    flaky = CountingStore(open_store(resolve_settings()), fail_after=2)
    engine = TransferEngine(
        flaky,
        part_size=PART,
        multipart_threshold=PART,
        part_concurrency=1,
        retries=1,
        state_dir=tmp_path / "state",
    )
    with pytest.raises(ObsError, match="injected"):
        engine.upload_file(big_file, dst)
    counting = CountingStore(open_store(resolve_settings()))
    engine2 = TransferEngine(
        counting, part_size=PART, multipart_threshold=PART, state_dir=tmp_path / "state"
    )
    engine2.upload_file(big_file, dst)
    assert sorted(counting.parts) == [3, 4, 5, 6]
    out = tmp_path / "check.bin"
    engine2.download_file(dst, out)
    assert out.read_bytes() == big_file.read_bytes()


def test_cancelled_download_and_upload_leave_nothing_behind(obs_target, big_file, tmp_path):
    store = open_store(resolve_settings())
    engine = TransferEngine(
        store,
        part_size=PART,
        multipart_threshold=PART,
        part_concurrency=1,
        state_dir=tmp_path / "state",
    )
    dst = ObsPath("test-bucket", "cancel.bin")
    engine.upload_file(big_file, dst)

    cancel = threading.Event()
    out = tmp_path / "dl" / "cancel.bin"

    def stop_after_first(done, total):
        if done >= PART:
            cancel.set()

    with pytest.raises(ObsCancelled):
        engine.download_file(dst, out, progress=stop_after_first, cancel=cancel)
    assert list((tmp_path / "dl").iterdir()) == []

    cancel2 = threading.Event()
    target = ObsPath("test-bucket", "cancel-up.bin")

    def stop_up(done, total):
        if done >= PART:
            cancel2.set()

    with pytest.raises(ObsCancelled):
        engine.upload_file(big_file, target, progress=stop_up, cancel=cancel2)
    assert not list((tmp_path / "state").glob("upload-*.json"))
    with pytest.raises(FileNotFoundError):
        store.head("test-bucket", "cancel-up.bin")
    if isinstance(store, LocalStore):
        assert not list((store.root / ".ma-multipart").iterdir())


def test_corrupted_object_fails_the_checksum_and_leaves_no_file(tmp_path):
    # the embedded store's files can be altered behind its back; moto's cannot
    store = LocalStore(tmp_path / "root")
    store.create_bucket("test-bucket")
    data = os.urandom(3 * PART)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    engine = engine_for(store, tmp_path)
    engine.upload_file(src, ObsPath("test-bucket", "c.bin"))
    path = store.root / "test-bucket" / "c.bin"
    st = path.stat()
    with open(path, "r+b") as f:
        f.seek(PART + 5)
        f.write(b"\xff\x00\xff")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # the stored ETag still claims validity
    out = tmp_path / "c.bin"
    with pytest.raises(ObsError, match="Integrity check failed"):
        engine.download_file(ObsPath("test-bucket", "c.bin"), out)
    assert not out.exists() and not list(tmp_path.glob(".c.bin*"))


class _GarblingStore(LocalStore):
    """A store whose part ETags do not match what was sent (a body altered on the way)."""

    def upload_part(self, bucket, key, upload_id, part_number, data):  # type: ignore[no-untyped-def]
        return super().upload_part(bucket, key, upload_id, part_number, data[::-1])


@pytest.mark.parametrize("protected", [False, True])
def test_part_md5_is_checked_only_when_nothing_else_protects_the_body(tmp_path, protected):
    store = _GarblingStore(tmp_path / "root")
    store.payload_protected = protected  # type: ignore[misc]
    store.create_bucket("test-bucket")
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3 * PART))
    engine = engine_for(store, tmp_path)
    if protected:
        # TLS or a signed payload would have refused the altered body; no MD5 of our own
        etag = engine.upload_file(src, ObsPath("test-bucket", "p.bin"))
        assert etag.endswith("-3")
    else:
        with pytest.raises(ObsError, match="Integrity check failed on part"):
            engine.upload_file(src, ObsPath("test-bucket", "p.bin"))
