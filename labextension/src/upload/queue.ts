import { ISignal, Signal } from '@lumino/signaling';
import { MaRequestError, cancelTask, requestAPI, watchTask } from '../request';
import { ITask } from '../tokens';
import {
  AbortedError,
  IXhrResult,
  errorMessage,
  sleep,
  xhrRequest
} from './transport';

/** Where one upload stands. */
export type UploadState =
  | 'awaiting' // waiting for a free slot ("awaiting upload")
  | 'checking' // asking the server where to start
  | 'conflict' // the name exists: Overwrite or Cancel
  | 'uploading' // bytes moving from the browser
  | 'large' // over the direct limit: offer OBS transit
  | 'pulling' // the server copies the file from OBS into the folder
  | 'done'
  | 'failed'
  | 'cancelled'
  | 'refused'; // folders, files over the transit limit

/** States that hold one of the limited upload slots. */
const ACTIVE: UploadState[] = ['checking', 'uploading'];
/** States an upload never leaves by itself. */
const FINAL: UploadState[] = ['done', 'failed', 'cancelled', 'refused'];

/** One file in the upload queue. */
export interface IUploadItem {
  readonly id: number;
  readonly file: File | null;
  readonly name: string;
  readonly size: number;
  /** Target folder, relative to the server root. */
  readonly path: string;
  state: UploadState;
  /** Bytes confirmed so far (both legs count for transit). */
  done: number;
  /** Total bytes of progress (twice the size for transit: upload + pull). */
  total: number;
  /** Current speed in bytes per second (average once finished). */
  speed: number;
  message: string;
  overwrite: boolean;
  mode: 'direct' | 'transit';
  /** Offset the upload resumed from after a reload, if any. */
  resumedFrom: number;
  transitPath: string;
  sessionId: string | null;
  taskId: string | null;
  controller: AbortController | null;
  started: number;
}

/** Limits the server announces under capabilities.upload. */
export interface IUploadLimits {
  direct_max_bytes: number;
  transit_max_bytes: number;
  max_active_uploads: number;
  chunk_bytes: number;
}

/** A transfer strategy for files over the direct limit (OBS transit). */
export interface ITransitUploader {
  /** Whether OBS transit is possible on this server (and why not). */
  available(): Promise<{ ok: boolean; reason?: string }>;
  /** Upload the item's file through OBS and have the server pull it in. */
  run(item: IUploadItem, queue: UploadQueue): Promise<void>;
}

/** What the seed advises for folders. */
export const FOLDER_ADVICE =
  'Folders cannot be uploaded. Compress the folder into a package (for example a .zip), upload the package, then decompress it in Terminal: unzip xxx.zip';

/**
 * The upload queue shared by the Local tab, drag-and-drop and the status bar:
 * at most `max_active_uploads` run at once, the rest are "awaiting upload".
 */
export class UploadQueue {
  constructor(limits: Promise<IUploadLimits>) {
    void limits.then(l => {
      this.limits = l;
      this._pump();
    });
  }

  limits: IUploadLimits = {
    direct_max_bytes: 100 * 1000 * 1000,
    transit_max_bytes: 50 * 1000 * 1000 * 1000,
    max_active_uploads: 10,
    chunk_bytes: 64 * 1024 * 1024
  };

  /** The transit strategy, set once OBS is available. */
  transit: ITransitUploader | null = null;

  /** Emitted whenever an item or the list changes. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Every item of the current batch, in the order added. */
  get items(): readonly IUploadItem[] {
    return this._items;
  }

  /** Finished and total items of the batch, for "Uploading: n / m". */
  get counts(): { finished: number; total: number; active: number } {
    const live = this._items.filter(i => i.state !== 'cancelled');
    return {
      finished: live.filter(i => i.state === 'done').length,
      total: live.length,
      active: this._items.filter(i => ACTIVE.includes(i.state)).length
    };
  }

  /** Queue files for the folder `path`. */
  add(files: File[], path: string): IUploadItem[] {
    this._startBatchIfIdle();
    const added = files.map(file =>
      this._newItem(file, file.name, file.size, path)
    );
    for (const item of added) {
      if (item.size > this.limits.transit_max_bytes) {
        this._set(item, 'refused', this.tooBigMessage(item.size));
      } else if (item.size > this.limits.direct_max_bytes) {
        this._set(
          item,
          'large',
          `The file size exceeds ${Math.round(this.limits.direct_max_bytes / 1e6)} MB`
        );
      }
    }
    this._changed.emit();
    this._pump();
    return added;
  }

  /** Record a dropped folder as refused, with the seed's advice. */
  addFolder(name: string, path: string): IUploadItem {
    this._startBatchIfIdle();
    const item = this._newItem(null, name, 0, path);
    this._set(item, 'refused', FOLDER_ADVICE);
    return item;
  }

  /** Answer a conflict with Overwrite. */
  overwrite(item: IUploadItem): void {
    item.overwrite = true;
    this._set(item, 'awaiting', '');
    this._pump();
  }

  /** Send a large file through OBS transit at `transitPath`. */
  useTransit(item: IUploadItem, transitPath: string): void {
    item.mode = 'transit';
    item.transitPath = transitPath;
    item.total = item.size * 2;
    this._set(item, 'awaiting', '');
    this._pump();
  }

  /** Try a failed upload again (it resumes where it stopped). */
  retry(item: IUploadItem): void {
    this._set(item, 'awaiting', '');
    this._pump();
  }

  /** Cancel an upload: stop its requests and delete what the server kept. */
  async cancel(item: IUploadItem): Promise<void> {
    if (FINAL.includes(item.state)) {
      return;
    }
    const wasState = item.state;
    item.controller?.abort();
    this._set(item, 'cancelled', 'Cancelled');
    if (item.taskId && wasState === 'pulling') {
      await cancelTask(item.taskId).catch(() => undefined);
    }
    if (item.sessionId) {
      const kind =
        item.mode === 'transit' ? 'upload/transit' : 'upload/sessions';
      await requestAPI(`${kind}/${item.sessionId}`, { method: 'DELETE' }).catch(
        () => undefined
      );
    }
    this._pump();
  }

  /** Mark an item as failed with a message for the user. */
  fail(item: IUploadItem, message: string): void {
    this._set(item, 'failed', message);
  }

  /** Remove finished rows from the list. */
  clearFinished(): void {
    this._items = this._items.filter(i => !FINAL.includes(i.state));
    this._changed.emit();
  }

  /** Guidance for files over the transit limit. */
  tooBigMessage(size: number): string {
    return `The file is ${(size / 1e9).toFixed(1)} GB, over the ${this.limits.transit_max_bytes / 1e9} GB limit of uploads through the browser. Upload it to OBS first, then copy it into the notebook with "ma-cli obs-copy obs://bucket/file ./" in Terminal or with the Python API.`;
  }

  /** Report progress of an item (called by transfer strategies too). */
  progress(item: IUploadItem, done: number, state?: UploadState): void {
    const now = performance.now();
    const sample = this._samples.get(item.id);
    if (!sample) {
      this._samples.set(item.id, { t: now, done });
    } else if (now - sample.t >= 500) {
      item.speed = Math.max(
        0,
        ((done - sample.done) * 1000) / (now - sample.t)
      );
      this._samples.set(item.id, { t: now, done });
    }
    item.done = done;
    if (state) {
      item.state = state;
    }
    this._changed.emit();
  }

  /** Mark an item as finished successfully, with its average speed. */
  finish(item: IUploadItem, bytesMoved: number): void {
    const seconds = Math.max(0.001, (performance.now() - item.started) / 1000);
    item.speed = bytesMoved / seconds;
    item.done = item.total;
    this._set(item, 'done', 'uploaded successfully');
  }

  /** Follow a server task that is part of an upload (the pull from OBS). */
  async followTask(
    item: IUploadItem,
    taskId: string,
    offset: number
  ): Promise<ITask> {
    item.taskId = taskId;
    this._set(item, 'pulling', '');
    this._samples.delete(item.id);
    const task = await watchTask(
      taskId,
      t => {
        if (item.state === 'pulling') {
          this.progress(item, offset + (t.done || 0));
          item.message = t.phase;
        }
      },
      item.controller?.signal
    );
    return task;
  }

  private _newItem(
    file: File | null,
    name: string,
    size: number,
    path: string
  ): IUploadItem {
    const item: IUploadItem = {
      id: ++this._nextId,
      file,
      name,
      size,
      path,
      state: 'awaiting',
      done: 0,
      total: size,
      speed: 0,
      message: '',
      overwrite: false,
      mode: 'direct',
      resumedFrom: 0,
      transitPath: '',
      sessionId: null,
      taskId: null,
      controller: null,
      started: 0
    };
    this._items.push(item);
    return item;
  }

  private _startBatchIfIdle(): void {
    if (this._items.length && this._items.every(i => FINAL.includes(i.state))) {
      this._items = [];
    }
  }

  private _set(item: IUploadItem, state: UploadState, message: string): void {
    item.state = state;
    item.message = message;
    this._changed.emit();
  }

  private _pump(): void {
    let active = this._items.filter(i => ACTIVE.includes(i.state)).length;
    for (const item of this._items) {
      if (active >= this.limits.max_active_uploads) {
        break;
      }
      if (item.state === 'awaiting') {
        active++;
        this._set(item, 'checking', '');
        void this._run(item).finally(() => this._pump());
      }
    }
  }

  private async _run(item: IUploadItem): Promise<void> {
    item.controller = new AbortController();
    item.started = performance.now();
    this._samples.delete(item.id);
    try {
      if (item.mode === 'transit') {
        if (!this.transit) {
          throw new MaRequestError(
            'OBS transit is not available on this server.',
            400
          );
        }
        await this.transit.run(item, this);
      } else {
        await this._runDirect(item);
      }
    } catch (error) {
      if (error instanceof AbortedError || item.state === 'cancelled') {
        return;
      }
      if (error instanceof ConflictError) {
        this._set(item, 'conflict', error.message);
        return;
      }
      if (error instanceof MaRequestError && error.status === 413) {
        this._set(item, 'refused', error.message);
        return;
      }
      this._set(item, 'failed', (error as Error).message);
    } finally {
      item.controller = null;
    }
  }

  private async _runDirect(item: IUploadItem): Promise<void> {
    const file = item.file!;
    const signal = item.controller!.signal;
    const session = await this._api('upload/sessions', 'POST', {
      path: item.path,
      name: item.name,
      size: item.size,
      key: fileKey(file),
      overwrite: item.overwrite
    });
    item.sessionId = session.id;
    if (session.complete) {
      this.finish(item, 0);
      return;
    }
    let offset: number = session.offset;
    item.resumedFrom = offset;
    const initial = offset;
    this.progress(item, offset, 'uploading');
    let failures = 0;
    // At least one PUT: an empty one at the end completes a finished upload
    // (after "Overwrite" answered a name that appeared meanwhile).
    for (;;) {
      const end = Math.min(item.size, offset + this.limits.chunk_bytes);
      let result: IXhrResult;
      try {
        const base = offset;
        result = await xhrRequest({
          method: 'PUT',
          url: `upload/sessions/${session.id}?offset=${offset}`,
          api: true,
          body: file.slice(offset, end),
          headers: { 'Content-Type': 'application/octet-stream' },
          onProgress: loaded => this.progress(item, base + loaded),
          signal
        });
      } catch (error) {
        if (error instanceof AbortedError) {
          throw error;
        }
        result = { status: 0, data: null, headers: () => null };
      }
      if (result.status === 200) {
        failures = 0;
        if (result.data.complete) {
          this.finish(item, item.size - initial);
          return;
        }
        offset = result.data.offset;
        continue;
      }
      if (result.status === 409 && result.data?.reason === 'exists') {
        throw new ConflictError(errorMessage(result));
      }
      if (result.status === 404 || result.status === 400 || failures >= 8) {
        throw new MaRequestError(errorMessage(result), result.status);
      }
      // A dropped connection or a concurrent request: ask where to resume.
      failures++;
      item.message = 'connection lost, resuming…';
      this._changed.emit();
      await sleep(Math.min(8000, 250 * 2 ** failures), signal);
      const now = await this._api(`upload/sessions/${session.id}`, 'GET');
      offset = now.offset;
    }
  }

  private async _api(
    path: string,
    method: string,
    body?: unknown
  ): Promise<any> {
    try {
      return await requestAPI<any>(path, {
        method,
        body: body === undefined ? undefined : JSON.stringify(body)
      });
    } catch (error) {
      if (error instanceof MaRequestError && error.status === 409) {
        throw new ConflictError(error.message);
      }
      throw error;
    }
  }

  private _items: IUploadItem[] = [];
  private _nextId = 0;
  private _samples = new Map<number, { t: number; done: number }>();
  private _changed = new Signal<this, void>(this);
}

/** The name exists in the target folder. */
export class ConflictError extends Error {}

/** A key that finds the server's unfinished upload of the same file again. */
export function fileKey(file: File): string {
  return `${file.name}:${file.size}:${file.lastModified}`;
}
