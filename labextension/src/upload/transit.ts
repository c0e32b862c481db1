import { MaRequestError, requestAPI } from '../request';
import { ITask } from '../tokens';
import {
  ConflictError,
  ITransitUploader,
  IUploadItem,
  UploadQueue,
  fileKey
} from './queue';
import { AbortedError, errorMessage, sleep, xhrRequest } from './transport';

/** What POST upload/transit answers. */
interface ITransitSession {
  id: string;
  size: number;
  part_size: number;
  parts: number;
  parts_done: Record<string, number>;
  completed: boolean;
  task_id: string | null;
  object: string;
}

/** Parts in flight at once. */
const PARALLEL_PARTS = 4;
/** Attempts per part before the upload fails. */
const MAX_ATTEMPTS = 6;

/**
 * OBS transit: the browser PUTs parts to presigned UploadPart URLs (several in
 * flight, with retries), falls back to relaying parts through the notebook
 * server when it cannot reach OBS, then the server completes and pulls the
 * file into the folder. Progress covers both legs (upload, then pull).
 */
export class TransitUploader implements ITransitUploader {
  constructor(private enabled: Promise<{ ok: boolean; reason?: string }>) {}

  available(): Promise<{ ok: boolean; reason?: string }> {
    return this.enabled;
  }

  /** Set once a presigned URL failed at the network level: relay from then on. */
  relayOnly = false;

  async run(item: IUploadItem, queue: UploadQueue): Promise<void> {
    const file = item.file!;
    const signal = item.controller!.signal;
    let session: ITransitSession;
    try {
      session = await requestAPI<ITransitSession>('upload/transit', {
        method: 'POST',
        body: JSON.stringify({
          path: item.path,
          name: item.name,
          size: item.size,
          key: fileKey(file),
          overwrite: item.overwrite,
          transit_path: item.transitPath
        })
      });
    } catch (error) {
      if (error instanceof MaRequestError && error.status === 409) {
        throw new ConflictError(error.message);
      }
      throw error;
    }
    item.sessionId = session.id;
    const doneParts = new Set(Object.keys(session.parts_done).map(Number));
    let confirmed = Object.values(session.parts_done).reduce(
      (a, b) => a + b,
      0
    );
    item.resumedFrom = session.completed ? item.size : confirmed;
    queue.progress(item, confirmed, 'uploading');

    if (!session.completed) {
      const todo: number[] = [];
      for (let n = 1; n <= session.parts; n++) {
        if (!doneParts.has(n)) {
          todo.push(n);
        }
      }
      const inFlight = new Map<number, number>();
      const report = () => {
        let sum = confirmed;
        inFlight.forEach(v => (sum += v));
        queue.progress(item, sum);
      };
      const urls = new Map<number, string>();
      const presign = async (n: number): Promise<string> => {
        if (!urls.has(n)) {
          const batch = todo.filter(p => p >= n && !urls.has(p)).slice(0, 50);
          const answer = await requestAPI<{ urls: Record<string, string> }>(
            `upload/transit/${session.id}/presign`,
            { method: 'POST', body: JSON.stringify({ parts: batch }) }
          );
          for (const [k, v] of Object.entries(answer.urls)) {
            urls.set(Number(k), v);
          }
        }
        return urls.get(n)!;
      };
      const sendPart = async (n: number) => {
        const start = (n - 1) * session.part_size;
        const blob = file.slice(
          start,
          Math.min(item.size, start + session.part_size)
        );
        for (let attempt = 1; ; attempt++) {
          const relay = this.relayOnly;
          let status = 0;
          let message = 'The connection was lost.';
          try {
            const result = await xhrRequest({
              method: 'PUT',
              url: relay
                ? `upload/transit/${session.id}/parts/${n}`
                : await presign(n),
              api: relay,
              body: blob,
              headers: relay
                ? { 'Content-Type': 'application/octet-stream' }
                : {},
              onProgress: loaded => {
                inFlight.set(n, loaded);
                report();
              },
              signal
            });
            status = result.status;
            message = errorMessage(result);
          } catch (error) {
            if (error instanceof AbortedError) {
              throw error;
            }
          }
          inFlight.delete(n);
          if (status >= 200 && status < 300) {
            confirmed += blob.size;
            report();
            return;
          }
          if (!relay && status === 0) {
            // CORS or network: OBS is not reachable from this browser.
            this.relayOnly = true;
            item.message = 'relaying through the notebook server';
            continue;
          }
          if (!relay && status === 403) {
            urls.delete(n); // expired signature: sign again
          }
          if (
            attempt >= MAX_ATTEMPTS ||
            status === 404 ||
            (relay && status === 400)
          ) {
            throw new MaRequestError(`Part ${n}: ${message}`, status);
          }
          report();
          await sleep(Math.min(8000, 300 * 2 ** attempt), signal);
        }
      };
      const queueOfParts = [...todo];
      const worker = async () => {
        while (queueOfParts.length) {
          await sendPart(queueOfParts.shift()!);
        }
      };
      await Promise.all(
        Array.from({ length: Math.min(PARALLEL_PARTS, todo.length) }, worker)
      );
    }

    const task = await requestAPI<ITask>(
      `upload/transit/${session.id}/complete`,
      {
        method: 'POST',
        body: '{}'
      }
    );
    const final = await queue.followTask(item, task.id, item.size);
    if (final.state === 'succeeded') {
      queue.finish(item, item.size);
    } else if (final.state === 'cancelled') {
      throw new AbortedError();
    } else {
      throw new MaRequestError(final.error ?? 'The copy from OBS failed.', 400);
    }
  }
}
