"""mox.file functions, fsspec and pandas on obs:// paths, against moto and the embedded store."""

from __future__ import annotations

import fsspec
import pandas as pd
import pytest

from ma_notebook.obs import file as mox
from ma_notebook.obs.errors import ObsError

B = "obs://test-bucket"


def test_read_write_append_and_file_object(obs_target):
    mox.write(f"{B}/obs_file.txt", "Hello World!")
    assert mox.read(f"{B}/obs_file.txt") == "Hello World!"
    assert mox.read(f"{B}/obs_file.txt", binary=True) == b"Hello World!"
    mox.append(f"{B}/obs_file.txt", " Again.")
    mox.append(f"{B}/new.txt", "created")
    assert mox.read(f"{B}/obs_file.txt") == "Hello World! Again."
    assert mox.read(f"{B}/new.txt") == "created"
    with mox.File(f"{B}/lines.txt", "w") as f:
        f.write("one\ntwo\n")
    with mox.File(f"{B}/lines.txt", "r") as f:
        assert f.readline() == "one\n"
        assert f.readlines() == ["two\n"]
    with mox.File(f"{B}/lines.txt", "a") as f:
        f.write("three\n")
    with mox.File(f"{B}/lines.txt", "rb") as f:
        assert f.read() == b"one\ntwo\nthree\n"


def test_listing_folders_exists_size_and_stat(obs_target):
    mox.write(f"{B}/object_dir/dir0/file00", "abc")
    mox.write(f"{B}/object_dir/file1", "hello")
    assert mox.list_directory(f"{B}/object_dir") == ["dir0", "file1"]
    assert mox.list_directory(f"{B}/object_dir", recursive=True) == ["dir0", "dir0/file00", "file1"]
    mox.make_dirs(f"{B}/sub_dir_0/sub_dir_1")
    assert mox.exists(f"{B}/sub_dir_0/sub_dir_1")
    assert mox.is_directory(f"{B}/sub_dir_0/sub_dir_1")
    assert mox.is_directory(f"{B}/sub_dir_0")
    mox.make_dirs(f"{B}/sub_dir_0/sub_dir_1")  # exists: nothing happens
    mox.mk_dir(f"{B}/sub_dir_0/sub_dir_2")
    assert mox.is_directory(f"{B}/sub_dir_0/sub_dir_2")
    assert mox.exists(f"{B}/object_dir/file1")
    assert not mox.is_directory(f"{B}/object_dir/file1")
    assert not mox.exists(f"{B}/object_dir/missing")
    assert mox.get_size(f"{B}/object_dir/file1") == 5
    assert mox.get_size(f"{B}/object_dir", recursive=True) == 8
    st = mox.stat(f"{B}/object_dir/file1")
    assert (st.length, st.is_directory) == (5, False) and st.mtime_nsec > 0
    assert mox.stat(f"{B}/object_dir").is_directory
    assert mox.glob(f"{B}/object_dir/*") == [f"{B}/object_dir/dir0", f"{B}/object_dir/file1"]
    walked = list(mox.walk(f"{B}/object_dir"))
    assert walked[0] == (f"{B}/object_dir", ["dir0"], ["file1"])
    assert (f"{B}/object_dir/dir0", [], ["file00"]) in walked
    entries = {e.name: e.is_dir() for e in mox.scan_dir(f"{B}/object_dir")}
    assert entries == {"dir0": True, "file1": False}
    with pytest.raises(FileNotFoundError):
        mox.get_size(f"{B}/nothing-here")


def test_copy_rename_remove_between_obs_and_local(obs_target, tmp_path):
    local = tmp_path / "obs_file.txt"
    local.write_text("payload")
    mox.copy(str(local), f"{B}/obs_file.txt")
    mox.copy(f"{B}/obs_file.txt", f"{B}/obs_file_2.txt")
    mox.copy(f"{B}/obs_file_2.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_text() == "payload"
    with pytest.raises(ObsError):
        mox.copy(f"{B}", str(tmp_path / "x"))

    tree = tmp_path / "sub_dir_0"
    (tree / "a").mkdir(parents=True)
    (tree / "a" / "f.bin").write_bytes(b"x" * 1000)
    (tree / "g.txt").write_text("g")
    mox.copy_parallel(str(tree), f"{B}/sub_dir_0")
    mox.copy_parallel(f"{B}/sub_dir_0", f"{B}/sub_dir_1")
    mox.copy_parallel(f"{B}/sub_dir_1", str(tmp_path / "down"))
    assert (tmp_path / "down" / "a" / "f.bin").read_bytes() == b"x" * 1000
    assert (tmp_path / "down" / "g.txt").read_text() == "g"

    mox.rename(f"{B}/obs_file.txt", f"{B}/moved.txt")
    assert not mox.exists(f"{B}/obs_file.txt") and mox.read(f"{B}/moved.txt") == "payload"
    mox.rename(f"{B}/moved.txt", str(tmp_path / "moved.txt"))
    assert (tmp_path / "moved.txt").read_text() == "payload" and not mox.exists(f"{B}/moved.txt")
    mox.rename(f"{B}/sub_dir_1", f"{B}/sub_dir_9")
    assert mox.list_directory(f"{B}/sub_dir_9", recursive=True) == ["a", "a/f.bin", "g.txt"]

    mox.remove(f"{B}/obs_file_2.txt")
    assert not mox.exists(f"{B}/obs_file_2.txt")
    mox.remove(f"{B}/sub_dir_0", recursive=True)
    assert not mox.exists(f"{B}/sub_dir_0")
    with pytest.raises(FileNotFoundError):
        mox.remove(f"{B}/sub_dir_0", recursive=True)


def test_fsspec_and_pandas_round_trip(obs_target):
    df = pd.DataFrame({"col1": [1, 2], "col2": [3, 4]})
    df.to_csv(f"{B}/data/frame.csv", index=False)
    back = pd.read_csv(f"{B}/data/frame.csv")
    assert back.equals(df)
    with fsspec.open(f"{B}/data/raw.bin", "wb") as f:
        f.write(b"\x00\x01" * 100)
    with fsspec.open(f"{B}/data/raw.bin", "rb") as f:
        f.seek(198)
        assert f.read() == b"\x00\x01"
    fs = fsspec.filesystem("obs")
    assert sorted(p.rsplit("/", 1)[-1] for p in fs.ls("test-bucket/data", detail=False)) == [
        "frame.csv",
        "raw.bin",
    ]
    with mox.File(f"{B}/data/frame.csv", "r") as f:
        assert pd.read_csv(f).equals(df)
    # an unfinished multipart upload is not an object (nor a bucket)
    from ma_notebook.obs.config import resolve_settings
    from ma_notebook.obs.store import open_store

    open_store(resolve_settings()).create_multipart("test-bucket", "data/pending.bin")
    assert [p.rstrip("/") for p in fs.ls("", detail=False)] == ["test-bucket"]
    assert mox.list_directory(f"{B}/data") == ["frame.csv", "raw.bin"]
    assert mox.list_directory("obs://test-bucket", recursive=True) == [
        "data",
        "data/frame.csv",
        "data/raw.bin",
    ]
