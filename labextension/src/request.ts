import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { ITask } from './tokens';

/** Where the ma-notebook REST API lives, relative to the server's base URL. */
export const API_NAMESPACE = 'ma-notebook/api';

/** An error from the ma-notebook server, carrying its message for the user. */
export class MaRequestError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly reason: string | null = null,
    readonly body: any = null
  ) {
    super(message);
    this.name = 'MaRequestError';
  }
}

/**
 * Call the ma-notebook REST API and return the parsed JSON answer.
 *
 * Errors carry the server's `message` (what went wrong and what to do).
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new MaRequestError(
      `Cannot reach the notebook server: ${(error as Error).message}`,
      0
    );
  }
  const text = await response.text();
  let data: any = text;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
  }
  if (!response.ok) {
    const message =
      (data && typeof data === 'object' && data.message) ||
      (typeof data === 'string' && data.length < 500 && data) ||
      response.statusText ||
      `HTTP ${response.status}`;
    throw new MaRequestError(
      message,
      response.status,
      data && typeof data === 'object' ? (data.reason ?? null) : null,
      data
    );
  }
  return data as T;
}

/** Format a byte count for people, in decimal units (1 MB = 1,000,000 bytes) like the limits. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !isFinite(bytes)) {
    return '';
  }
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/**
 * Follow a server task until it finishes, calling `onUpdate` on every change.
 *
 * Uses the API's long-poll (`?wait=`), so updates arrive as they happen.
 */
export async function watchTask(
  id: string,
  onUpdate: (task: ITask) => void,
  signal?: AbortSignal
): Promise<ITask> {
  let task = await requestAPI<ITask>(`tasks/${id}`);
  onUpdate(task);
  while (
    !['succeeded', 'failed', 'cancelled', 'interrupted'].includes(task.state) &&
    !signal?.aborted
  ) {
    task = await requestAPI<ITask>(`tasks/${id}?wait=10`);
    onUpdate(task);
  }
  return task;
}

/** Ask the server to cancel a task (an interrupted one is discarded). */
export function cancelTask(id: string): Promise<ITask> {
  return requestAPI<ITask>(`tasks/${id}`, { method: 'DELETE' });
}

/** Continue an interrupted task where it stopped. */
export function resumeTask(id: string): Promise<ITask> {
  return requestAPI<ITask>(`tasks/${id}/resume`, { method: 'POST' });
}
