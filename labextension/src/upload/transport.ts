import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { API_NAMESPACE, MaRequestError } from '../request';

/** The last value of a cookie (what tornado reads when names repeat). */
function getCookie(name: string): string | undefined {
  let value: string | undefined;
  for (const part of document.cookie.split(';')) {
    const trimmed = part.trim();
    if (trimmed.startsWith(name + '=')) {
      value = trimmed.substring(name.length + 1);
    }
  }
  return value;
}

/** Raised when a request was aborted on purpose (cancel). */
export class AbortedError extends Error {
  constructor() {
    super('aborted');
    this.name = 'AbortedError';
  }
}

/** Options of one XHR request. */
export interface IXhrOptions {
  method: string;
  /** Absolute URL, or a path under the ma-notebook API when `api` is true. */
  url: string;
  api?: boolean;
  body?: Blob | string | null;
  headers?: Record<string, string>;
  onProgress?: (loaded: number) => void;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** What an XHR request answered. */
export interface IXhrResult {
  status: number;
  data: any;
  headers: (name: string) => string | null;
}

/**
 * Send one request with XMLHttpRequest (which reports upload progress, unlike fetch).
 *
 * Requests to the notebook server carry its token and XSRF cookie like
 * `ServerConnection.makeRequest`. Resolves with any HTTP status; rejects with
 * `MaRequestError(status 0)` on network errors and `AbortedError` on abort.
 */
export function xhrRequest(options: IXhrOptions): Promise<IXhrResult> {
  const settings = ServerConnection.makeSettings();
  const url = options.api
    ? URLExt.join(settings.baseUrl, API_NAMESPACE, options.url)
    : options.url;
  return new Promise<IXhrResult>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(options.method, url);
    if (options.api) {
      if (settings.token) {
        xhr.setRequestHeader('Authorization', `token ${settings.token}`);
      }
      const xsrf = getCookie('_xsrf');
      if (xsrf !== undefined) {
        xhr.setRequestHeader('X-XSRFToken', xsrf);
      }
    }
    for (const [k, v] of Object.entries(options.headers ?? {})) {
      xhr.setRequestHeader(k, v);
    }
    if (options.timeoutMs) {
      xhr.timeout = options.timeoutMs;
    }
    if (options.onProgress) {
      const report = options.onProgress;
      xhr.upload.onprogress = e => report(e.loaded);
    }
    const onAbort = () => xhr.abort();
    options.signal?.addEventListener('abort', onAbort);
    const done = () => options.signal?.removeEventListener('abort', onAbort);
    xhr.onload = () => {
      done();
      let data: any = xhr.responseText;
      try {
        data = data ? JSON.parse(data) : null;
      } catch {
        // keep text
      }
      resolve({
        status: xhr.status,
        data,
        headers: name => xhr.getResponseHeader(name)
      });
    };
    xhr.onerror = () => {
      done();
      reject(new MaRequestError('The connection was lost.', 0));
    };
    xhr.ontimeout = () => {
      done();
      reject(new MaRequestError('The request timed out.', 0));
    };
    xhr.onabort = () => {
      done();
      reject(new AbortedError());
    };
    if (options.signal?.aborted) {
      xhr.abort();
      return;
    }
    xhr.send(options.body ?? null);
  });
}

/** The server's message from an error answer. */
export function errorMessage(result: IXhrResult): string {
  const data = result.data;
  if (data && typeof data === 'object' && data.message) {
    return String(data.message);
  }
  if (typeof data === 'string' && data.length > 0 && data.length < 500) {
    return data;
  }
  return `HTTP ${result.status}`;
}

/** Wait `ms` milliseconds (rejects with AbortedError when aborted). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new AbortedError());
    });
  });
}
