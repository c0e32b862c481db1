"""Reading this process's cgroup (v1 or v2): memory working set and limit, CPU usage and quota.

Every path is taken relative to ``root`` (default ``/``), so recorded ``/proc`` and
``/sys/fs/cgroup`` trees from other machines can be read in tests.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

#: Values at or above this mean "no memory limit" (v1 writes PAGE_COUNTER_MAX * page size).
UNLIMITED = 1 << 62


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _int(path: Path) -> int | None:
    text = _read(path)
    if text is None:
        return None
    text = text.strip()
    if text in ("", "max"):
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _stat(path: Path) -> dict[str, int]:
    """A ``key value`` file (memory.stat, cpu.stat, memory.events) as a dict."""
    out: dict[str, int] = {}
    for line in (_read(path) or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def parse_cpuset(text: str) -> int:
    """How many CPUs a cpuset list such as ``0-3,8`` names (0 when empty)."""
    count = 0
    for part in text.strip().split(","):
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-", 1)
            count += int(hi) - int(lo) + 1
        else:
            count += 1
    return count


@dataclass
class CgroupMount:
    """One mounted cgroup hierarchy: its controllers and where it is mounted."""

    version: int
    mountpoint: Path
    root: str
    controllers: frozenset[str]


def parse_mountinfo(text: str) -> list[CgroupMount]:
    """The cgroup and cgroup2 mounts listed in a ``/proc/<pid>/mountinfo`` text."""
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields = left.split()
        rfields = right.split()
        if len(fields) < 5 or len(rfields) < 3:
            continue
        fstype = rfields[0]
        if fstype == "cgroup2":
            mounts.append(CgroupMount(2, Path(fields[4]), fields[3], frozenset()))
        elif fstype == "cgroup":
            opts = set(rfields[2].split(","))
            ctrls = frozenset(
                o for o in opts if o in {"cpu", "cpuacct", "cpuset", "memory", "pids", "blkio"}
            )
            mounts.append(CgroupMount(1, Path(fields[4]), fields[3], ctrls))
    return mounts


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """``/proc/<pid>/cgroup`` as controller -> path ('' is the v2 unified entry)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        _, ctrls, path = parts
        if ctrls == "":
            out[""] = path
        for c in ctrls.split(","):
            if c:
                out[c] = path
    return out


@dataclass
class CgroupReading:
    """What one read of the cgroup files gives (None where the file is missing)."""

    memory_used: int | None = None  # working set: usage minus inactive file cache
    memory_usage: int | None = None
    memory_limit: int | None = None
    cpu_usage_ns: int | None = None
    cpu_quota: float | None = None  # CPUs allowed by the CFS quota
    cpuset_cpus: int | None = None
    oom_kills: int | None = None


@dataclass
class Cgroup:
    """The cgroup directories of one process, for v1 (per controller) or v2 (unified)."""

    version: int
    memory_dir: Path | None = None
    cpu_dir: Path | None = None
    cpuacct_dir: Path | None = None
    cpuset_dir: Path | None = None
    memory_path: str = "/"
    cpu_path: str = "/"
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def detect(cls, root: str | Path = "/", pid: str = "self") -> Cgroup | None:
        """The cgroup of process ``pid`` as seen under ``root``, or None when there is none."""
        root = Path(root)
        proc = root / "proc" / pid
        mounts = parse_mountinfo(_read(proc / "mountinfo") or "")
        membership = parse_proc_cgroup(_read(proc / "cgroup") or "")
        if not mounts or not membership:
            return None

        def locate(mount: CgroupMount, path: str) -> Path:
            # With a cgroup namespace the mount root is the process's own cgroup already.
            rel = path
            if mount.root != "/" and path.startswith(mount.root):
                rel = path[len(mount.root) :]
            base = root / str(mount.mountpoint).lstrip("/")
            candidate = base / rel.lstrip("/")
            return candidate if candidate.is_dir() else base

        v1 = {c: m for m in mounts if m.version == 1 for c in m.controllers}
        if "memory" in v1 or "cpu" in v1 or "cpuacct" in v1:
            cg = cls(version=1)
            if "memory" in v1 and "memory" in membership:
                cg.memory_dir = locate(v1["memory"], membership["memory"])
                cg.memory_path = membership["memory"]
            if "cpu" in v1 and "cpu" in membership:
                cg.cpu_dir = locate(v1["cpu"], membership["cpu"])
                cg.cpu_path = membership["cpu"]
            if "cpuacct" in v1 and "cpuacct" in membership:
                cg.cpuacct_dir = locate(v1["cpuacct"], membership["cpuacct"])
            if "cpuset" in v1 and "cpuset" in membership:
                cg.cpuset_dir = locate(v1["cpuset"], membership["cpuset"])
            return cg
        unified = [m for m in mounts if m.version == 2]
        if unified and "" in membership:
            directory = locate(unified[0], membership[""])
            path = membership[""]
            return cls(
                version=2,
                memory_dir=directory,
                cpu_dir=directory,
                cpuacct_dir=directory,
                cpuset_dir=directory,
                memory_path=path,
                cpu_path=path,
            )
        return None

    @classmethod
    def at(cls, directory: str | Path) -> Cgroup:
        """A cgroup given by its directory (v2 when it has ``cgroup.controllers``)."""
        d = Path(directory)
        if (d / "cgroup.controllers").exists():
            return cls(2, d, d, d, d, memory_path=str(d), cpu_path=str(d))
        return cls(1, memory_dir=d, memory_path=str(d))

    def read(self) -> CgroupReading:
        """Read the memory, CPU and OOM counters once."""
        return self._read_v2() if self.version == 2 else self._read_v1()

    def _read_v1(self) -> CgroupReading:
        r = CgroupReading()
        if self.memory_dir is not None:
            m = self.memory_dir
            r.memory_usage = _int(m / "memory.usage_in_bytes")
            limit = _int(m / "memory.limit_in_bytes")
            r.memory_limit = limit if limit is not None and limit < UNLIMITED else None
            stat = _stat(m / "memory.stat")
            inactive = stat.get("total_inactive_file", stat.get("inactive_file", 0))
            if r.memory_usage is not None:
                r.memory_used = max(0, r.memory_usage - inactive)
            oom = _stat(m / "memory.oom_control")
            r.oom_kills = oom.get("oom_kill")
        if self.cpuacct_dir is not None:
            r.cpu_usage_ns = _int(self.cpuacct_dir / "cpuacct.usage")
        if self.cpu_dir is not None:
            quota = _int(self.cpu_dir / "cpu.cfs_quota_us")
            period = _int(self.cpu_dir / "cpu.cfs_period_us")
            if quota is not None and quota > 0 and period:
                r.cpu_quota = quota / period
        if self.cpuset_dir is not None:
            text = _read(self.cpuset_dir / "cpuset.effective_cpus") or _read(
                self.cpuset_dir / "cpuset.cpus"
            )
            if text and text.strip():
                r.cpuset_cpus = parse_cpuset(text)
        return r

    def _read_v2(self) -> CgroupReading:
        r = CgroupReading()
        d = self.memory_dir
        if d is None:
            return r
        r.memory_usage = _int(d / "memory.current")
        limit = _int(d / "memory.max")
        r.memory_limit = limit if limit is not None and limit < UNLIMITED else None
        stat = _stat(d / "memory.stat")
        if r.memory_usage is not None:
            r.memory_used = max(0, r.memory_usage - stat.get("inactive_file", 0))
        events = _stat(d / "memory.events")
        if "oom_kill" in events:
            r.oom_kills = events["oom_kill"]
        cpu = _stat(d / "cpu.stat")
        if "usage_usec" in cpu:
            r.cpu_usage_ns = cpu["usage_usec"] * 1000
        text = (_read(d / "cpu.max") or "").split()
        if len(text) == 2 and text[0] != "max":
            with contextlib.suppress(ValueError, ZeroDivisionError):
                r.cpu_quota = int(text[0]) / int(text[1])
        cpus = _read(d / "cpuset.cpus.effective")
        if cpus and cpus.strip():
            r.cpuset_cpus = parse_cpuset(cpus)
        return r

    @property
    def memory_is_root(self) -> bool:
        """Whether the memory cgroup is its hierarchy's root (the host, outside containers)."""
        return self.memory_path in ("", "/")

    @property
    def cpu_is_root(self) -> bool:
        """Whether the CPU cgroup is its hierarchy's root."""
        return self.cpu_path in ("", "/")

    def describe(self) -> dict[str, object]:
        """Which cgroup files are read, for the API."""
        return {
            "version": self.version,
            "memory": str(self.memory_dir) if self.memory_dir else None,
            "cpu": str(self.cpuacct_dir or self.cpu_dir)
            if (self.cpuacct_dir or self.cpu_dir)
            else None,
        }


def host_cpus() -> int:
    """CPUs this process may run on (affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
