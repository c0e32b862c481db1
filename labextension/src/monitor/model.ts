import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';
import { requestAPI } from '../request';

/** One resource sample. */
export interface ISample {
  time: number;
  cpu_percent: number;
  cpu_cores: number;
  cpu_limit: number;
  memory_used: number;
  memory_limit: number;
  memory_percent: number;
}

/** One kernel's share of the resources. */
export interface IKernelUse {
  id: string;
  name: string;
  pid: number | null;
  execution_state: string;
  cpu_percent: number;
  memory_bytes: number;
}

/** A notification the server queued (alarm, OOM kill, lease warning, health). */
export interface INotice {
  id: number;
  time: number;
  kind: 'alarm' | 'alarm-resolved' | 'oom' | 'lease' | 'health';
  severity: 'Warning' | 'Major' | 'Critical';
  message: string;
  [key: string]: unknown;
}

/** The auto-stop lease. */
export interface ILease {
  enabled: boolean;
  deadline: number | null;
  remaining_seconds: number | null;
  duration_seconds: number;
  warn_before_seconds: number;
  min_hours: number;
  max_hours: number;
  stop_action: string;
}

/** What GET /ma-notebook/api/monitor returns. */
export interface IMonitorSnapshot {
  interval: number;
  flavor: { vcpus: number; memory_bytes: number; gpus: number; label: string };
  latest: ISample;
  samples: ISample[];
  kernels: IKernelUse[];
  gpus: {
    index: number;
    name: string;
    util_percent: number;
    memory_used: number;
    memory_total: number;
  }[];
  cache: {
    path: string;
    available: boolean;
    size_bytes: number;
    capacity_bytes: number;
    util: number;
    method: string;
  };
  notices: INotice[];
  lease: ILease;
}

/** Polls the monitor API and keeps the last 60 s of samples. */
export class MonitorModel {
  constructor(refreshSeconds = 2) {
    this._poll = new Poll({
      auto: true,
      factory: () => this.refresh(),
      frequency: { interval: refreshSeconds * 1000, backoff: true, max: 60000 },
      standby: 'when-hidden'
    });
  }

  /** Emitted after each successful refresh. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Emitted once per new server notice (not for those present at start-up). */
  get noticed(): ISignal<this, INotice> {
    return this._noticed;
  }

  get snapshot(): IMonitorSnapshot | null {
    return this._snapshot;
  }

  get samples(): ISample[] {
    return this._samples;
  }

  /** Set the poll interval in seconds. */
  set refreshSeconds(seconds: number) {
    this._poll.frequency = {
      ...this._poll.frequency,
      interval: Math.max(1, seconds) * 1000
    };
  }

  async refresh(): Promise<void> {
    const data = await requestAPI<IMonitorSnapshot>('monitor');
    this._snapshot = data;
    this._samples = data.samples;
    const known = this._lastNotice;
    let newest = known;
    const lease = data.lease;
    const lastLease = [...data.notices].reverse().find(n => n.kind === 'lease');
    const leaseDue =
      lease.enabled &&
      lease.remaining_seconds !== null &&
      lease.remaining_seconds <= lease.warn_before_seconds;
    for (const notice of data.notices) {
      newest = Math.max(newest, notice.id);
      if (known >= 0 && notice.id > known) {
        this._noticed.emit(notice);
      } else if (
        known < 0 &&
        notice.kind === 'alarm' &&
        this._isFiring(data, notice)
      ) {
        // an alarm still firing when the page loads is shown too
        this._noticed.emit(notice);
      } else if (known < 0 && notice === lastLease && leaseDue) {
        // so is the renew warning of a lease that is about to end
        this._noticed.emit(notice);
      }
    }
    this._lastNotice = Math.max(newest, 0);
    this._changed.emit();
  }

  private _isFiring(data: IMonitorSnapshot, notice: INotice): boolean {
    return (data as any).alarms?.some(
      (a: any) => a.rule?.name === notice.rule && a.state === 'firing'
    );
  }

  dispose(): void {
    this._poll.dispose();
  }

  private _poll: Poll;
  private _snapshot: IMonitorSnapshot | null = null;
  private _samples: ISample[] = [];
  private _lastNotice = -1;
  private _changed = new Signal<this, void>(this);
  private _noticed = new Signal<this, INotice>(this);
}

/** Renew the lease for `hours` (1-72) from now. */
export function renewLease(hours: number): Promise<ILease> {
  return requestAPI<ILease>('lease', {
    method: 'PATCH',
    body: JSON.stringify({ hours })
  });
}

/** Format bytes as GiB/MiB for the status bar. */
export function formatMemory(bytes: number): string {
  const gib = bytes / 1024 ** 3;
  if (gib >= 1) {
    return `${gib.toFixed(gib >= 10 ? 0 : 1)} GiB`;
  }
  return `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
}

/** Seconds as h:mm:ss. */
export function formatCountdown(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${h}:${pad(m)}:${pad(sec)}`;
}
