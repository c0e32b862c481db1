"""The monitor capability: resource samples, auto-stop lease, idle stop, health, cache alarms."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from traitlets import (
    Bool,
    Callable,
    Dict,
    Enum,
    Float,
    Integer,
    List,
    Type,
    Unicode,
    Union,
    default,
)

from .. import __version__
from ..api import ApiError
from ..capability import Capability
from ..procenv import tool_env
from .activity import ActivityTracker, epoch
from .alarms import CACHE_METRICS, DEFAULT_RULES, METRICS, AlarmEngine, AlarmRule, Transition
from .cache import CacheMonitor, CacheUsage
from .gpu import Nvml
from .lease import (
    MAX_HOURS,
    MIN_HOURS,
    LeaseState,
    LeaseStore,
    ShutdownServer,
    StopAction,
    stop_action_description,
)
from .metrics import register_collector, unregister_collector
from .notify import alert_payload, check_webhook_url, post_webhook, send_mail
from .sampler import Sample, Sampler, cgroup_for

NOTICE_LIMIT = 100


class MonitorService(Capability):
    """Samples CPU/memory/GPU every second, runs the auto-stop lease, health checks and alarms."""

    name = "monitor"

    # ------------------------------------------------------------ sampling
    interval = Float(1.0, config=True, help="Seconds between samples. Default: 1.")
    window = Integer(60, config=True, help="Samples kept for the charts. Default: 60.")
    source = Enum(
        ["auto", "cgroup", "process"],
        "auto",
        config=True,
        help=(
            "Where CPU and memory come from: 'cgroup' (the container's cgroup), 'process' (the "
            "server's process tree) or 'auto' (the cgroup when it is this notebook's own or has "
            "a limit, else the process tree). Default: 'auto'."
        ),
    )
    cgroup_dir = Unicode(
        "",
        config=True,
        help=(
            "A cgroup directory to read instead of this process's own (memory, CPU, OOM "
            "counter). Default: '' (detect from /proc/self/cgroup)."
        ),
    )
    gpu = Bool(True, config=True, help="Read GPUs through NVML when present. Default: True.")

    # ------------------------------------------------------------ cache directory
    cache_dir = Unicode(
        "/cache", config=True, help="The cache directory to watch. Default: /cache."
    )
    cache_quota_bytes = Integer(
        0,
        config=True,
        help=(
            "Capacity of the cache directory in bytes for its utilisation. Default: 0 (the size "
            "of the file system holding it)."
        ),
    )
    cache_scan_interval = Float(
        60.0,
        config=True,
        help=(
            "Seconds between background scans when the cache directory is not its own mount "
            "(a mount is measured with statvfs every sample); a scan that took s seconds "
            "waits at least 100 x s. Default: 60."
        ),
    )
    cache_scan_max_entries = Integer(
        1_000_000,
        config=True,
        help="Most entries one scan visits before it stops (reported as truncated). Default: 1e6.",
    )

    # ------------------------------------------------------------ alarms
    alarm_rules = List(
        Union([Dict(), Unicode()]),
        default_value=DEFAULT_RULES,
        config=True,
        help=(
            "Alarm rules: dicts with name, metric (cache_dir_util, cache_dir_size_bytes, "
            "memory_util, cpu_util), threshold, comparison (>=), statistic (avg|max), "
            "period_seconds (60), consecutive_periods (2), severity (Major). Users add theirs in "
            "the JupyterLab settings. Default: avg cache_dir_util >= 0.9 for 2 x 60 s -> Major."
        ),
    )
    webhook_url = Unicode(
        "",
        config=True,
        help=(
            "URL that gets alarms as Alertmanager webhook JSON (firing and resolved). "
            "Default: '' (none)."
        ),
    )
    webhook_allow_link_local = Bool(
        False,
        config=True,
        help="Allow the webhook to reach link-local/metadata addresses. Default: False.",
    )
    webhook_timeout = Float(10.0, config=True, help="Webhook timeout in s. Default: 10.")
    smtp_host = Unicode("", config=True, help="SMTP server for alarm e-mail. Default: '' (off).")
    smtp_port = Integer(25, config=True, help="SMTP port. Default: 25.")
    smtp_starttls = Bool(False, config=True, help="Use STARTTLS. Default: False.")
    smtp_username = Unicode("", config=True, help="SMTP login. Default: '' (no login).")
    smtp_password = Unicode("", config=True, help="SMTP password (never logged). Default: ''.")
    smtp_from = Unicode(
        "ma-notebook@localhost", config=True, help="Sender. Default: ma-notebook@localhost."
    )
    smtp_to = List(Unicode(), config=True, help="Alarm e-mail recipients. Default: [].")

    # ------------------------------------------------------------ auto-stop lease
    auto_stop_enabled = Bool(
        True,
        config=True,
        help="Whether a new lease has auto-stop on (the user may switch it). Default: True.",
    )
    auto_stop_seconds = Float(
        3600.0,
        config=True,
        help="Length of a new lease in seconds. Default: 3600 (1 hour, as the seed).",
    )
    warn_before_seconds = Float(
        300.0,
        config=True,
        help="Seconds before the deadline that the Renew notification appears. Default: 300.",
    )
    stop_action_class = Type(
        klass=StopAction,
        config=True,
        help=(
            "What runs when the lease ends or the notebook is idle. Default: under JupyterHub "
            "(JUPYTERHUB_API_TOKEN set) ma_notebook.hub.StopViaHub (ask the hub to stop this "
            "server), else ma_notebook.monitor.lease.ShutdownServer (shut it down cleanly)."
        ),
    )

    @default("stop_action_class")
    def _default_stop_action_class(self) -> type[StopAction]:
        from ..hub import StopViaHub, hub_context

        return StopViaHub if hub_context() is not None else ShutdownServer

    stop_action = Callable(
        None,
        allow_none=True,
        config=True,
        help=(
            "A callable(service, reason) (may be async) that replaces stop_action_class, for "
            "deployments configuring it in Python. Default: None."
        ),
    )
    idle_timeout_seconds = Float(
        0.0,
        config=True,
        help=(
            "Stop the notebook (StopNotebookResourceIdle) after this many seconds without a busy "
            "kernel, terminal use or user request; background polling does not count. "
            "Default: 0 (off)."
        ),
    )

    # ------------------------------------------------------------ health
    health_interval = Float(10.0, config=True, help="Seconds between self-checks. Default: 10.")
    health_commands = List(
        Unicode(),
        config=True,
        help=(
            "Extra self-checks: shell commands that must exit 0 (run with a minimal "
            "environment, 10 s timeout). Default: [] (only the built-in checks)."
        ),
    )
    unhealthy_after = Integer(
        2, config=True, help="Failed self-check rounds before NotebookUnhealthy. Default: 2."
    )

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.state_dir = Path(app.data_dir) / "monitor"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.samples: collections.deque[Sample] = collections.deque(maxlen=self.window)
        self.notices: collections.deque[dict[str, Any]] = collections.deque(maxlen=NOTICE_LIMIT)
        self._notice_id = 0
        self.nvml = Nvml() if self.gpu else None
        self.cgroup = cgroup_for(self.cgroup_dir)
        self.sampler = Sampler(self.cgroup, self.source, self._kernels, self.nvml)
        self.cache = CacheMonitor(
            self.cache_dir,
            self.cache_quota_bytes,
            self.cache_scan_interval,
            self.cache_scan_max_entries,
        )
        self.alarms = AlarmEngine()
        self.alarms.set_rules(self._config_rules(), "config")
        self._user_rules_path = self.state_dir / "alarm-rules.json"
        self._load_user_rules()
        self.lease_store = LeaseStore(self.state_dir / "lease.json")
        self.lease = self._initial_lease()
        self.activity = ActivityTracker()
        self.deliveries: list[dict[str, Any]] = []
        self.health: dict[str, Any] = {
            "status": "healthy",
            "failing": [],
            "since": time.time(),
            "streak": 0,
        }
        self._prev_oom: int | None = None
        self._kernel_pids: dict[str, tuple[int | None, str]] = {}
        self._task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Future[Any]] = set()
        self._stopping = False
        self._cache_pending = False
        self._last_health = 0.0
        self.sampler_cpu_seconds = 0.0

    def _config_rules(self) -> list[AlarmRule]:
        """The configured rules; JSON text is accepted (command lines), bad rules are skipped."""
        items: list[Any] = []
        for item in self.alarm_rules:
            if isinstance(item, str):
                try:
                    parsed = json.loads(item)
                except ValueError:
                    self.log.error("MonitorService.alarm_rules: not JSON: %s", item[:80])
                    continue
                items.extend(parsed if isinstance(parsed, list) else [parsed])
            else:
                items.append(item)
        rules = []
        for item in items:
            try:
                rules.append(AlarmRule.model_validate(item))
            except ValueError as e:
                self.log.error("MonitorService.alarm_rules: rule skipped: %s", e)
        return rules

    # ------------------------------------------------------------ lifecycle

    def info(self) -> dict[str, Any]:
        """Sources in use, GPU presence and the cache directory."""
        return {
            "available": True,
            "source": f"cpu:{self.sampler.cpu_source},memory:{self.sampler.memory_source}",
            "cgroup": self.cgroup.describe() if self.cgroup else None,
            "gpu": bool(self.nvml and self.nvml.available),
            "gpu_reason": self.nvml.reason if self.nvml else "disabled",
            "cache_dir": self.cache_dir,
        }

    async def start(self) -> None:
        """Hook the request log, register the /metrics collector and start the sampler."""
        serverapp = self.app.serverapp
        web_app = getattr(serverapp, "web_app", None)
        if web_app is not None:
            self.activity.base_url = web_app.settings.get("base_url", "/")
            self.activity.install(web_app.settings)
        register_collector(self)
        self.cache.refresh()
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        """Stop sampling and deliveries."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._background:
            await asyncio.wait(list(self._background), timeout=self.webhook_timeout)
        unregister_collector(self)
        self.activity.uninstall()
        self.cache.stop()
        if self.nvml:
            self.nvml.close()

    async def _run(self) -> None:
        next_at = time.monotonic()
        while True:
            next_at += self.interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            if next_at < time.monotonic() - 5 * self.interval:
                next_at = time.monotonic()  # the loop was blocked: do not catch up in a burst
            t0 = time.thread_time()
            try:
                await self.tick()
            except Exception:
                self.log.exception("ma-notebook monitor: sample failed")
            self.sampler_cpu_seconds += time.thread_time() - t0

    async def tick(self) -> None:
        """One round: sample, cache, OOM, alarms, lease, idle, health."""
        sample = self.sampler.sample()
        self.samples.append(sample)
        self._check_oom(sample)
        self._refresh_cache()
        self._evaluate_alarms(sample)
        await self._check_lease()
        await self._check_idle(sample)
        now = time.monotonic()
        if now - self._last_health >= self.health_interval:
            self._last_health = now
            self._spawn(self._check_health())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------ samples

    def _kernels(self) -> list[tuple[str, str, int | None, str]]:
        km = getattr(self.app.serverapp, "kernel_manager", None)
        if km is None:
            return []
        out = []
        for kid in list(km.list_kernel_ids()):
            try:
                kernel = km.get_kernel(kid)
            except KeyError:
                continue
            prov = getattr(kernel, "provisioner", None)
            pid = getattr(prov, "pid", None)
            process = getattr(prov, "process", None)
            if pid is None and process is not None:
                pid = process.pid
            out.append(
                (kid, kernel.kernel_name, pid, getattr(kernel, "execution_state", "unknown"))
            )
        return out

    async def current(self) -> list[Sample]:
        """The window, with a fresh sample when none has been taken yet (never a bogus 0 %)."""
        if not self.samples:
            # Measure a short, current interval rather than the average since start-up.
            if self.sampler.since_baseline > 2 * self.interval:
                self.sampler.rebaseline()
            if self.sampler.since_baseline < 0.25:
                await asyncio.sleep(0.25 - self.sampler.since_baseline)
            if not self.samples:
                self.samples.append(self.sampler.sample())
        return list(self.samples)

    def snapshot(self, samples: list[Sample], since: float | None = None) -> dict[str, Any]:
        """What GET /ma-notebook/api/monitor answers."""
        latest = samples[-1]
        return {
            "interval": self.interval,
            "window": self.window,
            "flavor": self.sampler.flavor(),
            "latest": latest.to_json(),
            "samples": [
                s.to_json(kernels=False) for s in samples if since is None or s.time > since
            ],
            "kernels": [k.__dict__ for k in latest.kernels],
            "gpus": latest.gpus,
            "cache": self.cache.latest.to_json(),
            "alarms": self.alarms.to_json(),
            "notices": list(self.notices),
            "health": {k: v for k, v in self.health.items() if k != "streak"},
            "lease": self.lease_json(),
            "source": latest.source,
        }

    def notice(self, kind: str, severity: str, message: str, **extra: Any) -> dict[str, Any]:
        """Queue a notification for the front end (alarms, OOM kills, lease warnings)."""
        self._notice_id += 1
        item = {
            "id": self._notice_id,
            "time": time.time(),
            "kind": kind,
            "severity": severity,
            "message": message,
            **extra,
        }
        self.notices.append(item)
        return item

    # ------------------------------------------------------------ OOM and health

    def _check_oom(self, sample: Sample) -> None:
        pids = {k.id: (k.pid, k.name) for k in sample.kernels}
        count = sample.oom_kills
        if count is not None and self._prev_oom is not None and count > self._prev_oom:
            # The killed process may still be exiting: name the victims a moment later.
            before = {**self._kernel_pids, **pids}
            self._spawn(self._report_oom(count, count - self._prev_oom, before, sample))
        if count is not None:
            self._prev_oom = count
        self._kernel_pids = pids

    async def _report_oom(
        self, count: int, kills: int, before: dict[str, tuple[int | None, str]], sample: Sample
    ) -> None:
        victims: list[tuple[str, str]] = []
        for _ in range(10):
            await asyncio.sleep(0.3)
            now = {kid: pid for kid, _, pid, _ in self._kernels()}
            victims = [
                (kid, name)
                for kid, (pid, name) in before.items()
                if pid is not None and (now.get(kid) != pid or not _alive(pid))
            ]
            if victims:
                break
        message = (
            f"The instance is out of memory: the kernel killed {kills} process"
            f"{'es' if kills > 1 else ''} (memory limit "
            f"{sample.memory_limit / (1 << 30):.1f} GiB)."
        )
        self.app.events.record(
            "OutOfMemory",
            "Critical",
            message,
            oom_kills=count,
            kernels=[kid for kid, _ in victims],
        )
        for kid, name in victims:
            self.notice(
                "oom",
                "Critical",
                f"Kernel {name} ({kid[:8]}) was killed because the notebook ran out of "
                "memory; its variables are lost. Free memory or use a bigger flavor.",
                kernel_id=kid,
            )
        if not victims:
            self.notice("oom", "Critical", message)

    def _health_checks(self) -> list[str]:
        failing = []
        probe = self.state_dir / ".health-probe"
        try:
            probe.write_text(str(time.time()))
            probe.unlink()
        except OSError as e:
            failing.append(f"state folder {self.state_dir} is not writable ({e.strerror})")
        for command in self.health_commands:
            try:
                r = subprocess.run(  # noqa: S602 - operator-configured check
                    command,
                    shell=True,
                    env=tool_env(),
                    capture_output=True,
                    timeout=10,
                    check=False,
                )
                if r.returncode != 0:
                    failing.append(f"check {command[:60]!r} exited {r.returncode}")
            except subprocess.TimeoutExpired:
                failing.append(f"check {command[:60]!r} timed out")
        return failing

    async def _check_health(self) -> None:
        t0 = time.monotonic()
        failing = await asyncio.get_running_loop().run_in_executor(None, self._health_checks)
        lag = time.monotonic() - t0
        if lag > 30:
            failing.append(f"self-checks took {lag:.0f} s")
        h = self.health
        if failing:
            h["streak"] += 1
            h["failing"] = failing
            if h["status"] == "healthy" and h["streak"] >= self.unhealthy_after:
                h["status"], h["since"] = "unhealthy", time.time()
                msg = "The instance is unhealthy: " + "; ".join(failing)
                self.app.events.record("NotebookUnhealthy", "Critical", msg, failing=failing)
                self.notice("health", "Critical", msg)
        else:
            h["streak"], h["failing"] = 0, []
            if h["status"] == "unhealthy":
                h["status"], h["since"] = "healthy", time.time()
                msg = "The instance has been restored to the healthy state."
                self.app.events.record("NotebookHealthy", "Major", msg)
                self.notice("health", "Major", msg)

    # ------------------------------------------------------------ cache and alarms

    def _refresh_cache(self) -> None:
        if self._cache_pending:
            return
        self._cache_pending = True
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, self.cache.refresh)

        def done(_: Any) -> None:
            self._cache_pending = False

        future.add_done_callback(done)

    def metric_values(self, sample: Sample, cache: CacheUsage) -> dict[str, float | None]:
        """The values alarm rules watch."""
        return {
            "cache_dir_util": cache.util if cache.available else None,
            "cache_dir_size_bytes": float(cache.size_bytes) if cache.available else None,
            "memory_util": sample.memory_percent / 100.0,
            "cpu_util": sample.cpu_percent / 100.0,
        }

    def _evaluate_alarms(self, sample: Sample) -> None:
        cache = self.cache.latest
        for t in self.alarms.feed(self.metric_values(sample, cache)):
            self._alarm(t, cache)

    def _alarm(self, t: Transition, cache: CacheUsage) -> None:
        rule = t.state.rule
        value = _fmt(rule.metric, t.value)
        limit = _fmt(rule.metric, rule.threshold)
        what = METRICS[rule.metric]
        if t.status == "firing":
            condition = (
                f"{rule.statistic} of {rule.metric} {value} {rule.comparison} {limit} for "
                f"{rule.consecutive_periods} consecutive {rule.period_seconds:g} s periods"
            )
            if rule.metric in CACHE_METRICS:
                event_type = "CacheVolumeExceedQuota"
                held = _fmt("cache_dir_size_bytes", cache.size_bytes)
                state = f"is {value} full" if rule.metric == "cache_dir_util" else f"holds {held}"
                summary = (
                    f"Alarm {rule.name}: the cache directory {state}; free space now. "
                    "Exceeding its capacity restarts the notebook and loses the environment "
                    f"({cache.path} holds {held}; {condition})."
                )
            else:
                event_type = "ResourceUsageAlarm"
                summary = f"Alarm {rule.name}: {condition}."
            self.app.events.record(
                event_type, rule.severity, summary, rule=rule.name, value=t.value
            )
        else:
            event_type = "AlarmResolved"
            summary = f"Alarm {rule.name} resolved: {rule.metric} is {value} again."
            self.app.events.record("AlarmResolved", "Warning", summary, rule=rule.name)
        self.notice(
            "alarm" if t.status == "firing" else "alarm-resolved",
            rule.severity if t.status == "firing" else "Warning",
            summary,
            rule=rule.name,
            status=t.status,
        )
        payload = alert_payload(
            name=rule.name,
            status=t.status,
            severity=rule.severity,
            labels={
                "metric": rule.metric,
                "event": event_type,
                "instance": os.uname().nodename,
                "cache_dir": cache.path,
            },
            summary=summary,
            description=what,
            starts_at=t.state.since or t.time if t.status == "firing" else t.time,
            ends_at=t.time if t.status == "resolved" else None,
        )
        if self.webhook_url:
            self._spawn(self._deliver_webhook(payload))
        if self.smtp_host and self.smtp_to:
            self._spawn(self._deliver_mail(f"[{t.status}] {rule.name}", summary))

    async def _deliver_webhook(self, payload: dict[str, Any]) -> None:
        url = self.webhook_url
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, check_webhook_url, url, self.webhook_allow_link_local
            )
            code = await post_webhook(url, payload, self.webhook_timeout)
            self.deliveries.append({"kind": "webhook", "status": payload["status"], "code": code})
        except ApiError as e:
            self.log.warning("Alarm webhook refused: %s", e.message)
            self.deliveries.append({"kind": "webhook", "error": e.message})
        except Exception as e:
            self.log.warning("Alarm webhook could not be delivered: %s", type(e).__name__)
            self.deliveries.append({"kind": "webhook", "error": type(e).__name__})

    async def _deliver_mail(self, subject: str, body: str) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(
                None,
                lambda: send_mail(
                    host=self.smtp_host,
                    port=self.smtp_port,
                    sender=self.smtp_from,
                    recipients=list(self.smtp_to),
                    subject=subject,
                    body=body,
                    starttls=self.smtp_starttls,
                    username=self.smtp_username,
                    password=self.smtp_password,
                    timeout=self.webhook_timeout,
                ),
            )
            self.deliveries.append({"kind": "smtp", "status": "sent"})
        except Exception as e:
            self.log.warning("Alarm e-mail could not be sent: %s", type(e).__name__)
            self.deliveries.append({"kind": "smtp", "error": type(e).__name__})

    def _load_user_rules(self) -> None:
        try:
            raw = json.loads(self._user_rules_path.read_text())
            rules = [AlarmRule.model_validate(r) for r in raw]
        except (OSError, ValueError):
            return
        self.alarms.set_rules(rules, "user")

    def set_user_rules(self, rules: list[AlarmRule]) -> None:
        """Replace the rules from the user's JupyterLab settings (kept across restarts)."""
        names = [r.name for r in rules]
        if len(set(names)) != len(names):
            raise ApiError(400, "Alarm rule names must be unique.")
        self.alarms.set_rules(rules, "user")
        tmp = self._user_rules_path.with_suffix(".tmp")
        tmp.write_text(json.dumps([r.model_dump() for r in rules]))
        os.replace(tmp, self._user_rules_path)

    # ------------------------------------------------------------ lease

    def _initial_lease(self) -> LeaseState:
        now = time.time()
        stored = self.lease_store.load()
        if stored is not None and (not stored.enabled or stored.deadline > now):
            self.log.info(
                "ma-notebook: auto-stop lease kept from before the restart (%.0f s left)",
                stored.remaining(now),
            )
            return stored
        lease = LeaseState(
            enabled=self.auto_stop_enabled,
            deadline=now + self.auto_stop_seconds,
            duration_seconds=self.auto_stop_seconds,
            renewed_at=now,
        )
        self.lease_store.save(lease)
        return lease

    def lease_json(self) -> dict[str, Any]:
        """The lease as the API returns it."""
        lease = self.lease
        now = time.time()
        last = self.last_activity()
        return {
            "enabled": lease.enabled,
            "deadline": lease.deadline if lease.enabled else None,
            "remaining_seconds": max(0.0, lease.remaining(now)) if lease.enabled else None,
            "duration_seconds": lease.duration_seconds,
            "renewed_at": lease.renewed_at,
            "warn_before_seconds": self.warn_before_seconds,
            "min_hours": MIN_HOURS,
            "max_hours": MAX_HOURS,
            "stop_action": stop_action_description(
                self.stop_action if self.stop_action is not None else self.stop_action_class
            ),
            "idle": {
                "enabled": self.idle_timeout_seconds > 0,
                "timeout_seconds": self.idle_timeout_seconds,
                "last_activity": last,
                "idle_seconds": max(0.0, now - last),
            },
        }

    def renew(self, hours: float | None, enabled: bool | None) -> dict[str, Any]:
        """Renew the lease for ``hours`` from now, and/or switch auto-stop on or off."""
        lease = self.lease
        now = time.time()
        if enabled is not None:
            lease.enabled = enabled
        if hours is not None:
            lease.duration_seconds = hours * 3600.0
            lease.deadline = now + lease.duration_seconds
            lease.renewed_at = now
            lease.enabled = True if enabled is None else enabled
        elif enabled and lease.deadline <= now:
            lease.deadline = now + lease.duration_seconds
            lease.renewed_at = now
        lease.warned = False
        self.lease_store.save(lease)
        return self.lease_json()

    async def _check_lease(self) -> None:
        lease = self.lease
        if not lease.enabled or self._stopping:
            return
        left = lease.remaining()
        if not lease.warned and left <= self.warn_before_seconds:
            lease.warned = True
            self.notice(
                "lease",
                "Warning",
                f"The notebook stops automatically in {max(0, left) / 60:.0f} min. "
                "Renew to keep working.",
                deadline=lease.deadline,
            )
        if left <= 0:
            self.app.events.record(
                "StopNotebook",
                "Major",
                "The instance has been stopped: its auto-stop time was reached.",
                reason="lease",
                deadline=lease.deadline,
            )
            self.app.stop_recorded = True  # type: ignore[attr-defined]
            await self._run_stop("lease")

    def last_activity(self) -> float:
        """When a person or their work last did something (requests, kernels, terminals)."""
        times = [self.activity.last_request]
        km = getattr(self.app.serverapp, "kernel_manager", None)
        if km is not None:
            for kid in list(km.list_kernel_ids()):
                with contextlib.suppress(KeyError):
                    kernel = km.get_kernel(kid)
                    if getattr(kernel, "execution_state", "") == "busy":
                        times.append(time.time())
                    t = epoch(getattr(kernel, "last_activity", None))
                    if t is not None:
                        times.append(t)
        web_app = getattr(self.app.serverapp, "web_app", None)
        tm = web_app.settings.get("terminal_manager") if web_app is not None else None
        if tm is not None:
            for term in list(getattr(tm, "terminals", {}).values()):
                t = epoch(getattr(term, "last_activity", None))
                if t is not None:
                    times.append(t)
        return max(times)

    async def _check_idle(self, sample: Sample) -> None:
        if self.idle_timeout_seconds <= 0 or self._stopping:
            return
        idle = time.time() - self.last_activity()
        if idle >= self.idle_timeout_seconds:
            self.app.events.record(
                "StopNotebookResourceIdle",
                "Major",
                f"The notebook instance has automatically stopped because resources were idle "
                f"for {idle / 60:.0f} min.",
                idle_seconds=round(idle),
                last_request=self.activity.last_request_path,
            )
            await self._run_stop("idle")

    async def _run_stop(self, reason: str) -> None:
        self._stopping = True
        try:
            if self.stop_action is not None:
                result = self.stop_action(self, reason)
                if inspect.isawaitable(result):
                    await result
            else:
                action = self.stop_action_class(parent=self, log=self.log)
                await action.stop(self, reason)
        except Exception:
            self.log.exception("ma-notebook: the stop action failed")
            self._stopping = False

    def status_line(self) -> str:
        """For logs: version and sources."""
        return f"ma-notebook {__version__} monitor: {self.info()['source']}"


def _alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return False
    return text[text.rfind(")") + 2 :][:1] not in ("Z", "X")


def _fmt(metric: str, value: float) -> str:
    if metric == "cache_dir_size_bytes":
        v = float(value)
        for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
            if v < 1024 or unit == "TiB":
                return f"{v:.1f} {unit}" if unit != "B" else f"{v:.0f} B"
            v /= 1024
    return f"{100 * value:.1f} %"
