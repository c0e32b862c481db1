import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';
import { MaRequestError, formatBytes, watchTask } from '../request';
import { ExpandDialogBody, MountDialogBody } from './dialogs';
import {
  BUSY_STATES,
  IMount,
  IVolume,
  expand,
  getVolume,
  listMounts,
  mount,
  remount,
  unmount
} from './model';

/** Ask for an OBS folder and a /data/<name>, then mount it; true when started. */
export async function mountStorageDialog(
  trans: TranslationBundle
): Promise<IMount | null> {
  const body = new MountDialogBody(trans);
  const result = await showDialog({
    title: trans.__('Mount Storage'),
    body,
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.okButton({ label: trans.__('Mount') })
    ]
  });
  if (!result.button.accept || !result.value) {
    return null;
  }
  const { uri, name, readOnly } = result.value;
  try {
    return await mount(uri.trim(), `/data/${name.trim()}/`, readOnly);
  } catch (e) {
    void showDialog({
      title: trans.__('Cannot mount'),
      body: (e as Error).message,
      buttons: [Dialog.okButton({ label: trans.__('OK') })]
    });
    return null;
  }
}

async function unmountWithConfirm(
  trans: TranslationBundle,
  m: IMount
): Promise<void> {
  try {
    await unmount(m.id);
  } catch (e) {
    if (e instanceof MaRequestError && e.reason === 'busy') {
      const answer = await showDialog({
        title: trans.__('Storage in use'),
        body: e.message,
        buttons: [
          Dialog.cancelButton({ label: trans.__('Cancel') }),
          Dialog.warnButton({ label: trans.__('Force Unmount') })
        ]
      });
      if (answer.button.accept) {
        await unmount(m.id, true);
      }
      return;
    }
    throw e;
  }
}

function usage(volume: IVolume): number {
  return volume.total_bytes
    ? Math.min(100, (100 * volume.used_bytes) / volume.total_bytes)
    : 0;
}

function StorageView(props: {
  trans: TranslationBundle;
  refreshSignal: number;
}): JSX.Element {
  const { trans } = props;
  const [mounts, setMounts] = React.useState<IMount[]>([]);
  const [volume, setVolume] = React.useState<IVolume | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [expanding, setExpanding] = React.useState('');

  const refresh = React.useCallback(async () => {
    try {
      const [m, v] = await Promise.all([listMounts(), getVolume()]);
      setMounts(m);
      setVolume(v);
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  }, []);

  React.useEffect(() => {
    void refresh();
  }, [refresh, props.refreshSignal]);

  const busy =
    mounts.some(m => BUSY_STATES.includes(m.status)) ||
    volume?.status === 'Expanding';
  React.useEffect(() => {
    if (!busy) {
      return;
    }
    const timer = window.setInterval(() => void refresh(), 1000);
    return () => window.clearInterval(timer);
  }, [busy, refresh]);

  const act = async (work: () => Promise<unknown>) => {
    try {
      await work();
    } catch (e) {
      Notification.error((e as Error).message, { autoClose: 8000 });
    }
    await refresh();
  };

  const onMount = () =>
    act(async () => {
      await mountStorageDialog(trans);
    });

  const onExpand = async () => {
    if (!volume) {
      return;
    }
    const body = new ExpandDialogBody(trans, volume);
    const result = await showDialog({
      title: trans.__('Expand Disk'),
      body,
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.okButton({ label: trans.__('Expand') })
      ]
    });
    if (!result.button.accept) {
      return;
    }
    await act(async () => {
      const task = await expand(result.value ?? 0);
      setExpanding(trans.__('Expanding…'));
      const done = await watchTask(task.id, t =>
        setExpanding(t.message || trans.__('Expanding…'))
      );
      setExpanding('');
      if (done.state === 'failed') {
        throw new Error(done.error ?? trans.__('The expansion failed.'));
      }
      Notification.success(trans.__('The workspace disk has grown.'), {
        autoClose: 5000
      });
    });
  };

  return (
    <div className="ma-Storage">
      <div className="ma-Storage-header">
        <h2>{trans.__('Storage')}</h2>
        <button
          className="jp-mod-styled ma-Storage-refresh"
          onClick={() => void refresh()}
        >
          {trans.__('Refresh')}
        </button>
      </div>
      {error && <div className="ma-Storage-error">{error}</div>}
      <section className="ma-Storage-disk">
        <h3>{trans.__('Workspace disk')}</h3>
        {volume && (
          <>
            <div className="ma-Storage-diskInfo">
              <span className="ma-Storage-diskType" data-type={volume.type}>
                {trans.__('Type: %1', volume.type)}
              </span>
              <span className="ma-Storage-diskPath">{volume.mount_path}</span>
            </div>
            <div
              className="ma-Storage-bar"
              title={`${usage(volume).toFixed(0)}%`}
            >
              <div
                className="ma-Storage-barUsed"
                style={{ width: `${usage(volume)}%` }}
              />
            </div>
            <div className="ma-Storage-diskSize">
              {trans.__(
                '%1 used of %2',
                formatBytes(volume.used_bytes),
                formatBytes(volume.total_bytes)
              )}
            </div>
            <button
              className="jp-mod-styled jp-mod-accept ma-Storage-expand"
              disabled={!volume.expandable || volume.status === 'Expanding'}
              title={volume.expandable ? '' : volume.reason}
              onClick={() => void onExpand()}
            >
              {trans.__('Expand')}
            </button>
            {!volume.expandable && (
              <div className="ma-Storage-note">{volume.reason}</div>
            )}
            {(expanding || volume.status === 'failed') && (
              <div
                className={`ma-Storage-note${volume.status === 'failed' ? ' ma-mod-error' : ''}`}
              >
                {expanding || volume.message}
              </div>
            )}
          </>
        )}
      </section>
      <section className="ma-Storage-mounts">
        <div className="ma-Storage-header">
          <h3>{trans.__('Mounted storage')}</h3>
          <button
            className="jp-mod-styled jp-mod-accept ma-Storage-mount"
            onClick={() => void onMount()}
          >
            {trans.__('Mount Storage')}
          </button>
        </div>
        <table className="ma-Storage-table">
          <thead>
            <tr>
              <th>{trans.__('Type')}</th>
              <th>{trans.__('Status')}</th>
              <th>{trans.__('Storage path')}</th>
              <th>{trans.__('Mount path')}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {mounts.map(m => (
              <tr
                key={m.id}
                className="ma-Storage-row"
                data-mount-path={m.mount_path}
                data-status={m.status}
              >
                <td>{m.type}</td>
                <td className="ma-Storage-status" title={m.message}>
                  {m.status}
                </td>
                <td className="ma-Storage-uri">{m.uri}</td>
                <td className="ma-Storage-path">
                  {m.mount_path}
                  {m.read_only ? ` (${trans.__('read-only')})` : ''}
                </td>
                <td>
                  {m.status === 'MOUNT_FAILED' && (
                    <button
                      className="jp-mod-styled ma-Storage-remount"
                      onClick={() => void act(() => remount(m.id))}
                    >
                      {trans.__('Remount')}
                    </button>
                  )}
                  {!BUSY_STATES.includes(m.status) && (
                    <button
                      className="jp-mod-styled jp-mod-warn ma-Storage-unmount"
                      onClick={() =>
                        void act(() => unmountWithConfirm(trans, m))
                      }
                    >
                      {trans.__('Unmount')}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {mounts.length === 0 && (
          <div className="ma-Storage-empty">
            {trans.__(
              'No storage mounted. OBS folders mount at /data/<name>/.'
            )}
          </div>
        )}
        {mounts
          .filter(m => m.message)
          .map(m => (
            <div key={m.id} className="ma-Storage-note ma-mod-error">
              {m.mount_path}: {m.message}
            </div>
          ))}
      </section>
    </div>
  );
}

/** The Storage sidebar panel: the workspace disk and the mounted OBS folders. */
export class StoragePanel extends ReactWidget {
  constructor(private trans: TranslationBundle) {
    super();
    this.addClass('ma-StoragePanel');
  }

  /** Reload the disk and the mounts. */
  refresh(): void {
    this._signal++;
    this.update();
  }

  protected onAfterShow(): void {
    this.refresh();
  }

  render(): JSX.Element {
    return <StorageView trans={this.trans} refreshSignal={this._signal} />;
  }

  private _signal = 0;
}
