"""Save Image's engine against Debian's docker-registry on loopback, on a fixture root for '/'."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import jsonschema
import pytest
from fixtures_save_image import (
    make_tiny_rootfs,
    push_base_image,
    record_baseline,
    top_layer_names,
)

from ma_notebook.images.fsindex import decode_mountinfo_path, mount_points, read_index
from ma_notebook.images.saver import ImageSaver, SaveError, SaveRequest, SaveSettings
from ma_notebook.images.snapshot import d_state_processes

FIXTURES = Path(__file__).parent / "fixtures"


def schema(name: str) -> dict:
    return json.loads((FIXTURES / "image-schemas" / f"{name}.json").read_text())


def apply_layer(target: Path, blob: bytes, attrs: bool = False) -> None:
    """Apply one gzip'd layer as a container runtime does (whiteouts, opaque folders).

    ``attrs`` keeps owners, modes and mtimes as overlayfs does (needs root).
    """
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob)), mode="r:") as tar:
        for member in tar.getmembers():
            parent, name = os.path.split(member.name)
            if name == ".wh..wh..opq":
                folder = target / parent
                for child in folder.iterdir() if folder.exists() else []:
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
                continue
            if name.startswith(".wh."):
                gone = target / parent / name[4:]
                if gone.is_dir() and not gone.is_symlink():
                    shutil.rmtree(gone)
                elif gone.exists() or gone.is_symlink():
                    gone.unlink()
                continue
            path = target / member.name
            if (path.exists() or path.is_symlink()) and not (member.isdir() and path.is_dir()):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            tar.extract(member, target, set_attrs=attrs, filter="fully_trusted")


def tree(root: Path, skip=()) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if any(rel == s or rel.startswith(s + "/") for s in skip):
            continue
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_dir():
            out[rel] = "dir"
        elif p.is_fifo():
            out[rel] = "fifo"
        else:
            out[rel] = "file:" + p.read_bytes().hex()
    return out


@pytest.fixture
def tmpfs_at(tmp_path):
    mounted = []

    def mount(path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(path)], check=True)
        mounted.append(path)

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], check=False)


def settings(base: dict, **kw) -> SaveSettings:
    return SaveSettings(
        root=str(base["root"]),
        baseline_path=str(base["baseline"]),
        exclude=["/home/ma-user/work"],
        work_dir=str(base["work"]),
        **kw,
    )


def test_saved_image_holds_exactly_the_changes_and_reuses_the_base(registry, tiny_base, tmpfs_at):
    root: Path = tiny_base["root"]
    # What a user does in the running notebook:
    (root / "usr/bin/new-tool").write_bytes(b"new\n" * 1000)  # added
    (root / "etc/hostname").write_text("changed\n")  # changed
    os.symlink("/usr/bin/new-tool", root / "usr/bin/nt")  # symlink
    (root / "opt/pair-a").write_bytes(b"pair")
    os.link(root / "opt/pair-a", root / "opt/pair-b")  # hardlink pair
    (root / "etc/os-release").unlink()  # deleted file
    shutil.rmtree(root / "opt/old")  # deleted folder: one whiteout for the topmost
    shutil.rmtree(root / "usr/lib/pkg")  # deleted then recreated: opaque
    (root / "usr/lib/pkg").mkdir()
    (root / "usr/lib/pkg/c.py").write_text("C = 3\n")
    os.mkfifo(root / "opt/fifo")
    (root / "home/ma-user/work/notebook.ipynb").write_text("{}")  # excluded folder
    tmpfs_at(root / "data")  # a runtime mount point
    (root / "data/dataset.csv").write_text("a,b\n")

    events = []
    saver = ImageSaver(settings(tiny_base), lambda *e: events.append(e))
    target = f"{registry.addr}/org/saved:v1"
    result = saver.run(SaveRequest(target=target, description="my env"))

    assert [e[0] for e in events] == [
        "CheckImageLayer",
        "ContainerCommitStarted",
        "CheckImageSize",
        "ContainerCommitSuccess",
        "ImagePushStarted",
        "ImagePushSuccess",
        "SaveImage",
    ]
    client = registry.client()
    _media, raw, digest = client.get_manifest("org/saved", "v1")
    manifest = json.loads(raw)
    jsonschema.validate(manifest, schema("docker-manifest-v2"))
    config = json.loads(client.get_blob("org/saved", manifest["config"]["digest"]))
    jsonschema.validate(config, schema("image-config"))
    assert digest == result["digest"]
    assert len(manifest["layers"]) == 2
    assert manifest["layers"][0] == tiny_base["manifest"]["layers"][0]
    assert config["rootfs"]["diff_ids"][0] == tiny_base["layer"].diff_id
    assert config["history"][-1]["comment"] == "my env"
    assert config["config"]["Cmd"] == ["/usr/bin/tool"]

    # The base layer was mounted from base/tiny, not uploaded again.
    assert result["reused"]["mounted"] == 1
    assert result["reused"]["copied"] == 0
    base_digest = tiny_base["layer"].digest
    log = registry.log_text()
    encoded = base_digest.replace(":", "%3A")
    assert f"mount={encoded}" in log
    puts = [ln for ln in log.splitlines() if '"PUT ' in ln and f"digest={base_digest}" in ln]
    assert len(puts) == 1 and "/v2/base/tiny/" in puts[0]  # only the base's own push

    # The new layer's entries: sorted, no duplicates, numeric owners, whiteouts.
    blob = client.get_blob("org/saved", manifest["layers"][1]["digest"])
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob)), mode="r:") as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names, key=lambda p: p.split("/"))
    assert len(names) == len(set(names))
    assert all(m.uname == "" and m.gname == "" for m in members)
    by_name = {m.name: m for m in members}
    assert "etc/.wh.os-release" in by_name
    assert "opt/.wh.old" in by_name and not any(n.startswith("opt/old/") for n in names)
    assert "usr/lib/pkg/.wh..wh..opq" in by_name
    assert by_name["usr/bin/nt"].issym()
    links = [by_name["opt/pair-a"], by_name["opt/pair-b"]]
    assert links[0].isfile() and links[1].islnk() and links[1].linkname == "opt/pair-a"
    assert by_name["opt/fifo"].isfifo()
    assert not any(n.startswith(("data/", "home/ma-user/work/")) for n in names)
    assert "usr/bin/tool" not in by_name  # unchanged files stay in the base layer

    # Applying the layers in order reproduces the container's tree (less what is excluded).
    applied = tiny_base["work"] / "applied"
    applied.mkdir()
    for item in manifest["layers"]:
        apply_layer(applied, client.get_blob("org/saved", item["digest"]))
    expected = tree(root, skip=("data", "home/ma-user/work"))
    got = tree(applied, skip=("data", "home/ma-user/work"))
    assert got == expected


def test_squash_writes_one_full_layer(registry, tiny_base):
    (tiny_base["root"] / "etc/added").write_text("1")
    saver = ImageSaver(settings(tiny_base), lambda *e: None)
    result = saver.run(SaveRequest(target=f"{registry.addr}/org/flat:1", squash=True))
    client = registry.client()
    manifest = json.loads(client.get_manifest("org/flat", "1")[1])
    assert result["layers"] == 1 and len(manifest["layers"]) == 1
    applied = tiny_base["work"] / "flat"
    applied.mkdir()
    apply_layer(applied, client.get_blob("org/flat", manifest["layers"][0]["digest"]))
    assert tree(applied, ("home/ma-user/work",)) == tree(tiny_base["root"], ("home/ma-user/work",))


@pytest.mark.parametrize(
    ("limits", "reason", "event_fragment"),
    [
        ({"max_layers": 1}, "layers", "more than the limit of 1"),
        ({"max_size_bytes": 100}, "size", "more than the limit"),
    ],
)
def test_limits_fail_with_their_reason_and_push_nothing(
    registry, tiny_base, limits, reason, event_fragment
):
    events = []
    saver = ImageSaver(settings(tiny_base, **limits), lambda *e: events.append(e))
    with pytest.raises(SaveError) as e:
        saver.run(SaveRequest(target=f"{registry.addr}/org/never:1"))
    assert e.value.reason == reason
    failed = [ev for ev in events if ev[0] == "SavedImageFailed"]
    assert len(failed) == 1 and failed[0][1] == "Critical" and event_fragment in failed[0][2]
    assert not (registry.storage / "docker/registry/v2/repositories/org/never").exists()


def test_d_state_process_blocks_saving(registry, tiny_base, tmp_path):
    # A fake /proc with one process in D state (a real one needs a stuck FUSE daemon: see the
    # container test); the parser reads the same format.
    proc = tmp_path / "proc"
    (proc / "4242").mkdir(parents=True)
    (proc / "4242/stat").write_text("4242 (cat (stuck)) D 1 4242 4242 0 -1 4194560 0\n")
    (proc / "1").mkdir()
    (proc / "1/stat").write_text("1 (init) S 0 1 1 0 -1 4194560 0\n")
    assert d_state_processes(str(proc)) == [(4242, "cat (stuck)")]
    events = []
    saver = ImageSaver(settings(tiny_base, proc=str(proc)), lambda *e: events.append(e))
    with pytest.raises(SaveError) as e:
        saver.run(SaveRequest(target=f"{registry.addr}/org/never:1"))
    assert e.value.reason == "d_state"
    assert "4242 (cat (stuck))" in e.value.message
    assert events[-1][0] == "SavedImageFailed"


def test_cancel_leaves_no_tag(registry, tiny_base):
    (tiny_base["root"] / "big").write_bytes(os.urandom(8 << 20))
    cancel = threading.Event()
    from ma_notebook.images.saver import SaveProgress

    def on_change(p):
        if p.phase == "pushing" and p.bytes_pushed == 0:
            cancel.set()

    saver = ImageSaver(
        settings(tiny_base), lambda *e: None, SaveProgress(on_change=on_change), cancel
    )
    with pytest.raises(SaveError) as e:
        saver.run(SaveRequest(target=f"{registry.addr}/org/cancelled:1"))
    assert e.value.reason == "cancelled"
    tags = registry.storage / "docker/registry/v2/repositories/org/cancelled/_manifests/tags"
    assert not tags.exists()


def test_mountinfo_escapes_are_decoded(tmp_path):
    info = tmp_path / "mountinfo"
    info.write_text(
        "22 1 0:21 / / rw - ext4 /dev/vda rw\n"
        "23 22 0:22 / /data/my\\040set rw - fuse.rclone x rw\n"
        "24 22 0:23 / /tab\\011dir rw - tmpfs tmpfs rw\n"
    )
    assert mount_points(str(info)) == {"/data/my set", "/tab\tdir"}
    assert decode_mountinfo_path("a\\134b") == "a\\b"


def test_a_process_stuck_on_a_stopped_fuse_daemon_blocks_saving(registry, tiny_base, tmp_path):
    """A real D state: a reader of an rclone FUSE mount whose daemon is stopped.

    FUSE waits interruptibly (S) until the reader gets a signal it handles; then it sends the
    daemon an INTERRUPT and waits uninterruptibly (D) for an answer that never comes.
    """
    import signal
    import time

    src, mnt = tmp_path / "src", tmp_path / "mnt"
    src.mkdir()
    mnt.mkdir()
    (src / "data.bin").write_bytes(b"x" * 1000)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "RCLONE_CONFIG": str(tmp_path / "rc")}
    rclone = subprocess.Popen(
        ["rclone", "mount", str(src), str(mnt), "--vfs-cache-mode", "off"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    reader = None
    try:
        deadline = time.monotonic() + 20
        while str(mnt) not in mount_points():
            assert time.monotonic() < deadline and rclone.poll() is None, "rclone did not mount"
            time.sleep(0.1)
        rclone.send_signal(signal.SIGSTOP)
        code = (
            "import signal, sys; signal.signal(signal.SIGUSR1, lambda *a: None); "
            "sys.stdout.write('ready\\n'); sys.stdout.flush(); open(sys.argv[1]).read()"
        )
        reader = subprocess.Popen(
            [sys.executable, "-c", code, str(mnt / "data.bin")], stdout=subprocess.PIPE
        )
        assert reader.stdout is not None and reader.stdout.readline() == b"ready\n"
        deadline = time.monotonic() + 10
        while reader.pid not in [pid for pid, _ in d_state_processes()]:
            assert time.monotonic() < deadline, "the reader never reached D state"
            reader.send_signal(signal.SIGUSR1)
            time.sleep(0.2)
        events = []
        saver = ImageSaver(settings(tiny_base), lambda *e: events.append(e))
        with pytest.raises(SaveError) as e:
            saver.run(SaveRequest(target=f"{registry.addr}/org/never:1"))
        assert e.value.reason == "d_state"
        assert f"{reader.pid} (python" in e.value.message
        assert events == [
            ("SavedImageFailed", "Critical", "Saving the image failed: " + e.value.message)
        ]
        assert not (registry.storage / "docker/registry/v2/repositories/org/never").exists()
    finally:
        if reader is not None:
            reader.kill()
        rclone.send_signal(signal.SIGCONT)
        subprocess.run(["fusermount", "-uz", str(mnt)], check=False, capture_output=True)
        rclone.terminate()
        try:
            rclone.wait(10)
        except subprocess.TimeoutExpired:
            rclone.kill()
        if reader is not None:
            reader.wait(10)


def test_saving_again_from_the_saved_image_saves_only_what_changed_since(registry, tmp_path):
    """The saved image carries its own baseline: a second generation does not re-save the first."""
    root = tmp_path / "gen0"
    root.mkdir()
    make_tiny_rootfs(root)
    index = root / "opt/ma-notebook/baseline.jsonl.gz"
    index.parent.mkdir(parents=True)
    base_ref = f"{registry.addr}/base/tiny:1"
    record_baseline(root, index, base_ref, "")  # the image build's last step, in the image
    work = tmp_path / "work"
    work.mkdir()
    push_base_image(registry, root, "base/tiny", "1", work)

    # Generation 1: the user installs a tool, then saves.
    (root / "usr/bin/gen1-tool").write_bytes(b"one\n" * 500)
    (root / "etc/os-release").unlink()
    shutil.rmtree(root / "opt/old")  # a whole folder deleted
    shutil.rmtree(root / "usr/lib/pkg")  # deleted and made again: opaque
    (root / "usr/lib/pkg").mkdir()
    (root / "usr/lib/pkg/c.py").write_text("C = 3\n")
    gen1 = f"{registry.addr}/org/env:1"
    s1 = SaveSettings(root=str(root), baseline_path=str(index), work_dir=str(work))
    ImageSaver(s1, lambda *e: None).run(SaveRequest(target=gen1))
    client = registry.client()
    manifest1 = json.loads(client.get_manifest("org/env", "1")[1])
    names = top_layer_names(client, "org/env", "1")
    assert {"usr/bin/gen1-tool", "etc/.wh.os-release", "opt/ma-notebook/baseline.jsonl.gz"} <= names

    # A notebook runs generation 1 (its layers as the runtime lays them out) ...
    running = tmp_path / "gen1"
    running.mkdir()
    for item in manifest1["layers"]:
        apply_layer(running, client.get_blob("org/env", item["digest"]), attrs=True)
    header, entries = read_index(running / "opt/ma-notebook/baseline.jsonl.gz")
    assert header["base_image"] == gen1
    assert "usr/bin/gen1-tool" in entries and "etc/os-release" not in entries
    assert not [p for p in entries if p == "opt/old" or p.startswith("opt/old/")]
    assert sorted(p for p in entries if p.startswith("usr/lib/pkg/")) == ["usr/lib/pkg/c.py"]
    assert "opt/keep.txt" in entries and "usr/bin/tool" in entries
    # ... and its user changes one more thing, then saves generation 2 from it.
    (running / "usr/bin/gen2-tool").write_bytes(b"two\n" * 500)
    gen2 = f"{registry.addr}/org/env:2"
    s2 = SaveSettings(
        root=str(running),
        baseline_path=str(running / "opt/ma-notebook/baseline.jsonl.gz"),
        work_dir=str(work),
        image=gen1,
    )
    result = ImageSaver(s2, lambda *e: None).run(SaveRequest(target=gen2))
    manifest2 = json.loads(client.get_manifest("org/env", "2")[1])
    assert manifest2["layers"][:-1] == manifest1["layers"]  # generation 1's layers, reused
    names = top_layer_names(client, "org/env", "2")
    assert "usr/bin/gen2-tool" in names
    assert not {"usr/bin/gen1-tool", "etc/.wh.os-release", "opt/.wh.old"} & names, names
    assert not [n for n in names if n.startswith("usr/lib/pkg")], names
    assert result["reused"]["uploaded"] == 2  # the new layer and the config
