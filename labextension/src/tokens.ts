import { Token } from '@lumino/coreutils';

/** Command ids of every ma-notebook feature. */
export namespace CommandIDs {
  export const openEvents = 'ma-notebook:open-events';
  export const refreshEvents = 'ma-notebook:refresh-events';
  export const checkCron = 'ma-notebook:check-cron';
}

/** What GET /ma-notebook/api/info returns. */
export interface IServerInfo {
  version: string;
  workspace_dir: string;
  data_dir: string;
  capabilities: Record<string, ICapabilityInfo>;
}

/** One capability's availability on the server. */
export interface ICapabilityInfo {
  available: boolean;
  reason?: string;
  [key: string]: unknown;
}

/** One event of the instance event log. */
export interface IEvent {
  id: number;
  time: number;
  type: string;
  severity: 'Warning' | 'Major' | 'Critical';
  message: string;
  details: Record<string, unknown>;
}

/** A server task (long work that outlives the browser tab). */
export interface ITask {
  id: string;
  kind: string;
  title: string;
  state: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  created: number;
  started: number | null;
  finished: number | null;
  phase: string;
  done: number;
  total: number | null;
  percent: number | null;
  rate: number;
  message: string;
  result: any;
  error: string | null;
  error_reason: string | null;
  meta: Record<string, any>;
}

/** The core service other ma-notebook plugins build on. */
export interface IMaNotebook {
  /** Server info; rejects when the server extension is missing. */
  readonly serverInfo: Promise<IServerInfo>;
  /** The frontend's own version. */
  readonly version: string;
}

export const IMaNotebook = new Token<IMaNotebook>(
  'ma-notebook:core',
  'The ma-notebook core: server info and capability availability.'
);
