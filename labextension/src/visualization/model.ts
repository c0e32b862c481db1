import { ISignal, Signal } from '@lumino/signaling';
import { requestAPI } from '../request';

/** A tool the launcher can start. */
export type ToolName = 'tensorboard' | 'mindinsight';

/** One TensorBoard or MindInsight instance, as the server reports it. */
export interface IVisualizationInstance {
  id: string;
  tool: ToolName;
  title: string;
  /** Absolute folder on the server. */
  folder: string;
  /** Folder relative to the file browser root, or null when outside it. */
  path: string | null;
  /** Proxied URL relative to the server's base URL (ends with `/`). */
  url: string;
  state: 'starting' | 'running' | 'exited' | 'stopping' | 'stopped';
  started: number;
  uptime: number;
  pid: number | null;
  exit_code: number | null;
  message: string;
  executable: string;
  log_tail?: string[];
}

/** What the launcher proposes as the summary folder. */
export interface IFolderSuggestion {
  folder: string;
  path: string;
  has_summaries: boolean;
}

/** Whether a tool is installed on the server, and how to install it when it is not. */
export interface IToolInfo {
  title: string;
  available: boolean;
  reason?: string;
  executable?: string;
  environment?: string;
}

/** The running instances, refreshed from the server; shared by tabs and the Running panel. */
export class VisualizationModel {
  /** Instances as last fetched, oldest first. */
  get instances(): IVisualizationInstance[] {
    return this._instances;
  }

  /** Emitted whenever the list (or an instance's state) changes. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Instances of one tool. */
  of(tool: ToolName): IVisualizationInstance[] {
    return this._instances.filter(i => i.tool === tool);
  }

  /** Which tools the server has (each with the install command when missing). */
  async tools(): Promise<Record<ToolName, IToolInfo>> {
    const data = await requestAPI<{ tools: Record<ToolName, IToolInfo> }>(
      'visualization/tools'
    );
    return data.tools;
  }

  /** Fetch the list from the server. */
  async refresh(): Promise<void> {
    const data = await requestAPI<{ instances: IVisualizationInstance[] }>(
      'visualization/instances'
    );
    this._instances = data.instances;
    this._changed.emit();
  }

  /** The folder a launcher tile should propose for `tool`, given the browser's folder. */
  suggest(tool: ToolName, cwd: string): Promise<IFolderSuggestion> {
    const query = new URLSearchParams({ tool, cwd });
    return requestAPI<IFolderSuggestion>(`visualization/suggest?${query}`);
  }

  /** Start `tool` on `folder`, or get the instance already serving it. */
  async start(tool: ToolName, folder: string): Promise<IVisualizationInstance> {
    const instance = await requestAPI<IVisualizationInstance>(
      'visualization/instances',
      { method: 'POST', body: JSON.stringify({ tool, folder }) }
    );
    await this.refresh().catch(() => undefined);
    return instance;
  }

  /** Shut one instance down (its whole process group). */
  async shutdown(id: string): Promise<void> {
    try {
      await requestAPI(`visualization/instances/${id}`, { method: 'DELETE' });
    } finally {
      await this.refresh().catch(() => undefined);
    }
  }

  /** Shut down every instance of `tool`. */
  async shutdownAll(tool: ToolName): Promise<void> {
    try {
      await requestAPI(`visualization/instances?tool=${tool}`, {
        method: 'DELETE'
      });
    } finally {
      await this.refresh().catch(() => undefined);
    }
  }

  /** Refresh every `seconds` (0 stops) while the page is visible. */
  set interval(seconds: number) {
    window.clearInterval(this._timer);
    this._timer = undefined;
    if (seconds > 0) {
      this._timer = window.setInterval(() => {
        if (document.visibilityState === 'visible') {
          void this.refresh().catch(() => undefined);
        }
      }, seconds * 1000);
    }
  }

  private _instances: IVisualizationInstance[] = [];
  private _changed = new Signal<this, void>(this);
  private _timer: number | undefined = undefined;
}

/** Uptime as people say it: 45s, 12m, 3h 5m, 2d 4h. */
export function formatUptime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) {
    return `${s}s`;
  }
  const m = Math.floor(s / 60);
  if (m < 60) {
    return `${m}m`;
  }
  const h = Math.floor(m / 60);
  if (h < 24) {
    return `${h}h ${m % 60}m`;
  }
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}
