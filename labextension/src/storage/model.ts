import { requestAPI } from '../request';
import { ITask } from '../tokens';

/** One dynamic mount as the storage API returns it. */
export interface IMount {
  id: string;
  type: string;
  backend: string;
  uri: string;
  mount_path: string;
  read_only: boolean;
  status:
    | 'MOUNTING'
    | 'MOUNTED'
    | 'MOUNT_FAILED'
    | 'UNMOUNTING'
    | 'UNMOUNTED'
    | 'UNMOUNT_FAILED';
  message: string;
  created: number;
  updated: number;
}

/** The workspace disk. */
export interface IVolume {
  type: string;
  mount_path: string;
  total_bytes: number;
  used_bytes: number;
  capacity_gb: number | null;
  expandable: boolean;
  reason: string;
  status: string;
  message: string;
  max_step_gb: number;
  max_total_gb: number;
}

/** Transitional states: the panel polls while a mount is in one. */
export const BUSY_STATES = ['MOUNTING', 'UNMOUNTING'];

export const GB = 1024 ** 3;

/** The disk's current size in GB (provisioned, else the file system's). */
export function currentGb(volume: IVolume): number {
  return volume.capacity_gb ?? volume.total_bytes / GB;
}

/** List the mounts. */
export async function listMounts(): Promise<IMount[]> {
  const data = await requestAPI<{ mounts: IMount[] }>('storage/mounts');
  return data.mounts;
}

/** Mount an OBS folder at /data/<name>/ (answers MOUNTING). */
export function mount(
  uri: string,
  mountPath: string,
  readOnly: boolean
): Promise<IMount> {
  return requestAPI<IMount>('storage/mounts', {
    method: 'POST',
    body: JSON.stringify({ uri, mount_path: mountPath, read_only: readOnly })
  });
}

/** Unmount; `force` unmounts lazily even when processes hold the folder. */
export function unmount(id: string, force = false): Promise<IMount> {
  return requestAPI<IMount>(
    `storage/mounts/${id}${force ? '?force=true' : ''}`,
    { method: 'DELETE' }
  );
}

/** Mount a failed mount again. */
export function remount(id: string): Promise<IMount> {
  return requestAPI<IMount>(`storage/mounts/${id}/remount`, {
    method: 'POST',
    body: '{}'
  });
}

/** The workspace disk. */
export function getVolume(): Promise<IVolume> {
  return requestAPI<IVolume>('storage/volume');
}

/** Grow the workspace disk (a task). */
export function expand(increaseGb: number): Promise<ITask> {
  return requestAPI<ITask>('storage/volume/expand', {
    method: 'POST',
    body: JSON.stringify({ increase_gb: increaseGb })
  });
}

/** The folder name proposed for an obs:// folder (its last part). */
export function proposedName(uri: string): string {
  const parts = uri
    .replace(/^obs:\/\//, '')
    .split('/')
    .filter(p => p);
  const last = parts.length ? parts[parts.length - 1] : '';
  return last.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '');
}
