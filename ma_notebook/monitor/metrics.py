"""Prometheus gauges on Jupyter's own ``/metrics``, computed from the latest sample when scraped."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from .service import MonitorService

_lock = threading.Lock()
_services: list[MonitorService] = []
_collector: MonitorCollector | None = None


class MonitorCollector(Collector):
    """Yields the monitor's gauges for the most recently started monitor service."""

    def describe(self) -> list[Any]:
        """Nothing up front: names depend on what the machine has (no collect at register)."""
        return []

    def collect(self) -> Iterator[Any]:
        """The current values (nothing when no monitor runs)."""
        with _lock:
            service = _services[-1] if _services else None
        if service is None:
            return
        yield from service_metrics(service)


def gauge(name: str, doc: str, value: float | None, **labels: str) -> GaugeMetricFamily:
    """One gauge, with optional labels."""
    g = GaugeMetricFamily(name, doc, labels=list(labels))
    if value is not None:
        g.add_metric(list(labels.values()), float(value))
    return g


def service_metrics(service: MonitorService) -> Iterator[GaugeMetricFamily]:
    """Every gauge of one monitor service."""
    cache = service.cache.latest
    path = cache.path
    yield gauge(
        "ma_container_notebook_cache_dir_size_bytes",
        "Bytes held in the notebook's cache directory.",
        cache.size_bytes if cache.available else None,
        path=path,
    )
    yield gauge(
        "ma_container_notebook_cache_dir_util",
        "Use of the notebook's cache directory as a fraction of its capacity (0-1).",
        cache.util if cache.available else None,
        path=path,
    )
    yield gauge(
        "ma_container_notebook_cache_dir_capacity_bytes",
        "Capacity of the notebook's cache directory.",
        cache.capacity_bytes if cache.available else None,
        path=path,
    )
    sample = service.samples[-1] if service.samples else None
    if sample is not None:
        yield gauge(
            "ma_container_cpu_util",
            "CPU use as a fraction of the vCPUs.",
            sample.cpu_percent / 100.0,
        )
        yield gauge("ma_container_cpu_used_cores", "CPU cores in use.", sample.cpu_cores)
        yield gauge("ma_container_cpu_limit_cores", "vCPUs of the flavor.", sample.cpu_limit)
        yield gauge("ma_container_memory_used_bytes", "Memory working set.", sample.memory_used)
        yield gauge("ma_container_memory_limit_bytes", "Memory limit.", sample.memory_limit)
        yield gauge(
            "ma_container_memory_util",
            "Memory use as a fraction of the limit.",
            sample.memory_percent / 100.0,
        )
        if sample.oom_kills is not None:
            yield gauge(
                "ma_container_oom_kills",
                "Processes the cgroup's OOM killer ended.",
                sample.oom_kills,
            )
        k_cpu = GaugeMetricFamily(
            "ma_kernel_cpu_percent",
            "CPU use of each kernel (% of one core).",
            labels=["kernel_id", "kernel_name"],
        )
        k_mem = GaugeMetricFamily(
            "ma_kernel_memory_bytes",
            "Resident memory of each kernel.",
            labels=["kernel_id", "kernel_name"],
        )
        for k in sample.kernels:
            k_cpu.add_metric([k.id, k.name], k.cpu_percent)
            k_mem.add_metric([k.id, k.name], k.memory_bytes)
        yield k_cpu
        yield k_mem
        g_util = GaugeMetricFamily(
            "ma_container_gpu_util", "GPU utilisation (0-1).", labels=["gpu"]
        )
        g_mem = GaugeMetricFamily(
            "ma_container_gpu_memory_used_bytes", "GPU memory in use.", labels=["gpu"]
        )
        for g in sample.gpus:
            g_util.add_metric([str(g["index"])], g["util_percent"] / 100.0)
            g_mem.add_metric([str(g["index"])], g["memory_used"])
        yield g_util
        yield g_mem
    lease = service.lease
    yield gauge(
        "ma_notebook_auto_stop_remaining_seconds",
        "Seconds until the auto-stop lease ends (absent when auto-stop is off).",
        max(0.0, lease.remaining()) if lease.enabled else None,
    )
    yield gauge(
        "ma_notebook_unhealthy",
        "1 when the notebook's self-checks fail.",
        1.0 if service.health["status"] == "unhealthy" else 0.0,
    )


def register_collector(service: MonitorService) -> None:
    """Make ``service`` the one whose gauges /metrics shows (registered once per process)."""
    global _collector
    with _lock:
        _services.append(service)
        first = _collector is None
        if first:
            _collector = MonitorCollector()
    if first and _collector is not None:
        REGISTRY.register(_collector)


def unregister_collector(service: MonitorService) -> None:
    """Forget ``service``; the collector stays registered and yields nothing."""
    with _lock:
        if service in _services:
            _services.remove(service)
