"""Per-second resource samples: container-aware CPU and memory, per-kernel use, GPUs.

CPU and memory come from the cgroup when it describes this notebook (a container's own cgroup,
or any cgroup with a limit); otherwise from the server's process tree (server, kernels,
terminals and their children). Both are read as deltas against the previous sample, and the
first sample is measured against a baseline taken at start-up, so it is never a bogus 0 %.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from .cgroup import Cgroup, CgroupReading, host_cpus
from .gpu import Nvml

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass
class KernelUse:
    """One kernel's share: its process and its children."""

    id: str
    name: str
    pid: int | None
    execution_state: str
    cpu_percent: float = 0.0  # of one core
    memory_bytes: int = 0


@dataclass
class Sample:
    """One reading of the notebook's resource use."""

    time: float
    cpu_percent: float  # of the CPU limit (the flavor's vCPUs), 0-100
    cpu_cores: float  # cores in use
    cpu_limit: float
    memory_used: int
    memory_limit: int
    memory_percent: float
    oom_kills: int | None = None
    kernels: list[KernelUse] = field(default_factory=list)
    gpus: list[dict[str, Any]] = field(default_factory=list)
    source: str = "process"

    def to_json(self, kernels: bool = True) -> dict[str, Any]:
        """The sample as the API returns it."""
        data = asdict(self)
        if not kernels:
            data.pop("kernels")
        return data


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def proc_ticks(pid: int) -> int | None:
    """utime + stime of a process in clock ticks (None when it is gone)."""
    text = _read(f"/proc/{pid}/stat")
    if text is None:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return int(fields[11]) + int(fields[12])
    except (IndexError, ValueError):
        return None


def proc_rss(pid: int) -> int:
    """Resident memory of a process in bytes (0 when it is gone)."""
    text = _read(f"/proc/{pid}/statm")
    if not text:
        return 0
    try:
        return int(text.split()[1]) * PAGE_SIZE
    except (IndexError, ValueError):
        return 0


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc's per-thread children lists, else psutil)."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    out: list[int] = []
    found = False
    for tid in tids:
        text = _read(f"/proc/{pid}/task/{tid}/children")
        if text is None:
            continue
        found = True
        out.extend(int(c) for c in text.split())
    if found:
        return out
    try:
        return [c.pid for c in psutil.Process(pid).children()]
    except psutil.Error:
        return []


def tree(pid: int, limit: int = 4096) -> list[int]:
    """``pid`` and all its descendants (at most ``limit`` processes)."""
    out = [pid]
    i = 0
    while i < len(out) and len(out) < limit:
        out.extend(children(out[i]))
        i += 1
    return out[:limit]


class Sampler:
    """Takes samples of CPU, memory, kernels and GPUs; call :meth:`sample` once a second."""

    def __init__(
        self,
        cgroup: Cgroup | None,
        source: str = "auto",
        kernels: Callable[[], Iterable[tuple[str, str, int | None, str]]] | None = None,
        gpu: Nvml | None = None,
        root_pid: int | None = None,
    ) -> None:
        self.cgroup = cgroup
        self.kernels = kernels or (lambda: ())
        self.gpu = gpu
        self.root_pid = root_pid or os.getpid()
        self.host_memory = int(psutil.virtual_memory().total)
        self.host_cpus = host_cpus()
        first = cgroup.read() if cgroup else CgroupReading()
        self.cpu_source, self.memory_source = self._sources(source, first)
        self._prev_ticks: dict[int, int] = {}
        self.rebaseline(first)

    def rebaseline(self, reading: CgroupReading | None = None) -> None:
        """Make now the point the next sample measures from."""
        r = reading or (self.cgroup.read() if self.cgroup else CgroupReading())
        self._prev_time = time.monotonic()
        self._prev_usage = r.cpu_usage_ns
        self._prev_ticks = {}
        for pid in tree(self.root_pid):
            ticks = proc_ticks(pid)
            if ticks is not None:
                self._prev_ticks[pid] = ticks
        self.last_reading = r

    @property
    def since_baseline(self) -> float:
        """Seconds since the previous sample (or baseline)."""
        return time.monotonic() - self._prev_time

    def _sources(self, source: str, r: CgroupReading) -> tuple[str, str]:
        if source == "process" or self.cgroup is None:
            return "process", "process"
        cg = self.cgroup
        if source == "cgroup":
            return (
                "cgroup" if r.cpu_usage_ns is not None else "process",
                "cgroup" if r.memory_used is not None else "process",
            )
        # auto: the cgroup counts when it is ours (not the host's root) or carries a limit
        cpu = (
            "cgroup"
            if r.cpu_usage_ns is not None and (not cg.cpu_is_root or r.cpu_quota)
            else "process"
        )
        mem = (
            "cgroup"
            if r.memory_used is not None and (not cg.memory_is_root or r.memory_limit)
            else "process"
        )
        return cpu, mem

    def flavor(self) -> dict[str, Any]:
        """The resources this notebook may use: vCPUs, memory, GPUs."""
        r = self.last_reading
        cpus = float(r.cpu_quota or r.cpuset_cpus or self.host_cpus)
        memory = self.memory_limit(r)
        gpus = self.gpu.devices() if self.gpu else []
        return {
            "vcpus": round(cpus, 2),
            "memory_bytes": memory,
            "gpus": len(gpus),
            "gpu_names": [g["name"] for g in gpus],
            "label": flavor_label(cpus, memory, gpus),
        }

    def cpu_limit(self, r: CgroupReading) -> float:
        """CPUs allowed: the CFS quota, else the cpuset, else this process's affinity."""
        return float(r.cpu_quota or r.cpuset_cpus or self.host_cpus)

    def memory_limit(self, r: CgroupReading) -> int:
        """Memory allowed: the cgroup limit when below the host's memory, else the host's."""
        if r.memory_limit and r.memory_limit < self.host_memory:
            return int(r.memory_limit)
        return self.host_memory

    def sample(self) -> Sample:
        """Measure now, against the previous sample."""
        now = time.monotonic()
        elapsed = max(1e-6, now - self._prev_time)
        r = self.cgroup.read() if self.cgroup else CgroupReading()
        self.last_reading = r
        pids = tree(self.root_pid)
        ticks: dict[int, int] = {}
        for pid in pids:
            t = proc_ticks(pid)
            if t is not None:
                ticks[pid] = t
        deltas = {pid: t - self._prev_ticks.get(pid, 0) for pid, t in ticks.items()}

        if self.cpu_source == "cgroup" and r.cpu_usage_ns is not None:
            used_ns = r.cpu_usage_ns - (self._prev_usage or r.cpu_usage_ns)
            cores = max(0.0, used_ns / 1e9 / elapsed)
        else:
            cores = max(0.0, sum(deltas.values()) / CLK_TCK / elapsed)
        limit = self.cpu_limit(r)
        cores = min(cores, limit) if self.cpu_source == "cgroup" else cores
        rss: dict[int, int] = {}
        if self.memory_source == "cgroup" and r.memory_used is not None:
            used = int(r.memory_used)
        else:
            rss = {pid: proc_rss(pid) for pid in ticks}
            used = sum(rss.values())
        mem_limit = self.memory_limit(r)

        kernels = []
        for kid, name, kpid, state in self.kernels():
            use = KernelUse(kid, name, kpid, state)
            if kpid is not None and kpid in ticks:
                sub = tree(kpid, 512)
                use.cpu_percent = round(
                    100.0 * sum(max(0, deltas.get(p, 0)) for p in sub) / CLK_TCK / elapsed, 1
                )
                use.memory_bytes = sum(rss.get(p) or proc_rss(p) for p in sub)
            kernels.append(use)

        self._prev_time = now
        self._prev_usage = r.cpu_usage_ns
        self._prev_ticks = ticks
        return Sample(
            time=time.time(),
            cpu_percent=round(min(100.0, 100.0 * cores / limit), 2) if limit else 0.0,
            cpu_cores=round(cores, 3),
            cpu_limit=round(limit, 2),
            memory_used=used,
            memory_limit=mem_limit,
            memory_percent=round(100.0 * used / mem_limit, 2) if mem_limit else 0.0,
            oom_kills=r.oom_kills,
            kernels=kernels,
            gpus=self.gpu.sample() if self.gpu else [],
            source=f"cpu:{self.cpu_source},memory:{self.memory_source}",
        )


def flavor_label(cpus: float, memory: int, gpus: list[dict[str, Any]]) -> str:
    """The flavor as the seed shows it, e.g. ``2 vCPUs | 8 GiB`` (plus GPUs when present)."""
    c = f"{cpus:g}"
    gib = memory / (1 << 30)
    mem = f"{gib:.0f} GiB" if gib >= 10 or abs(gib - round(gib)) < 0.05 else f"{gib:.1f} GiB"
    label = f"{c} vCPU{'s' if cpus != 1 else ''} | {mem}"
    if gpus:
        label += f" | {len(gpus)} x {gpus[0]['name']}"
    return label


def cgroup_for(directory: str) -> Cgroup | None:
    """The cgroup to read: ``directory`` when set, else this process's own."""
    if directory:
        return Cgroup.at(Path(directory))
    return Cgroup.detect()
