import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';
import { IAddFilesContext } from '../tokens';
import { ObsBrowserToggle, UploadTable } from './components';
import { IUploadItem, UploadQueue } from './queue';
import { TaskRow, useTasks } from './RemoteTab';

/** Files and folders of a drop (folders are detected so they can be refused). */
export function collectDrop(data: DataTransfer): {
  files: File[];
  folders: string[];
} {
  const files: File[] = [];
  const folders: string[] = [];
  const items = Array.from(data.items ?? []);
  if (items.length) {
    for (const item of items) {
      if (item.kind !== 'file') {
        continue;
      }
      const entry = item.webkitGetAsEntry?.();
      if (entry?.isDirectory) {
        folders.push(entry.name);
        continue;
      }
      const file = item.getAsFile();
      if (file) {
        files.push(file);
      }
    }
  } else {
    files.push(...Array.from(data.files ?? []));
  }
  return { files, folders };
}

/** What USE DEFAULT remembers: the server's default, whatever it is (or becomes). */
export const SERVER_DEFAULT = 'server default';

/** The transit path to send to the server for a remembered setting ('' = its default). */
export function serverTransitPath(setting: string): string {
  return setting === SERVER_DEFAULT ? '' : setting;
}

/** Settings the Local tab reads and remembers. */
export interface ITransitSettings {
  /** The remembered OBS transit path, SERVER_DEFAULT, or '' when none was chosen yet. */
  get(): string;
  set(path: string): Promise<void>;
  /** The server's default transit path, for display. */
  defaultPath(): Promise<string>;
}

/** Props of the Local tab. */
export interface ILocalTabProps {
  queue: UploadQueue;
  context: IAddFilesContext;
  trans: TranslationBundle;
  transitSettings: ITransitSettings;
  /** Renders an OBS folder browser that calls `onPick(obsPath)`, when OBS offers one. */
  renderObsBrowser?: (onPick: (path: string) => void) => React.ReactNode;
}

/** The transit path form: typed, picked in the OBS browser, or USE DEFAULT. */
function TransitPathForm(props: {
  trans: TranslationBundle;
  settings: ITransitSettings;
  renderObsBrowser?: (onPick: (path: string) => void) => React.ReactNode;
  onConfirm: (path: string) => void;
  onCancel: () => void;
}): JSX.Element {
  const { trans } = props;
  const [path, setPath] = React.useState(
    serverTransitPath(props.settings.get())
  );
  const [error, setError] = React.useState('');
  const [defaultPath, setDefaultPath] = React.useState('');
  React.useEffect(() => {
    void props.settings.defaultPath().then(setDefaultPath, () => undefined);
  }, []);
  const confirm = async (value: string) => {
    const chosen = value.trim();
    if (!chosen) {
      // USE DEFAULT: remember "the server's default", not today's path, so the choice
      // follows the server when its administrator changes the default.
      const serverDefault = await props.settings.defaultPath().catch(() => '');
      if (!serverDefault) {
        setError(
          trans.__(
            'This server has no default OBS transit path; enter one like obs://bucket/folder/'
          )
        );
        return;
      }
      await props.settings.set(SERVER_DEFAULT);
      props.onConfirm('');
      return;
    }
    if (!/^obs:\/\/[^/]+/.test(chosen)) {
      setError(trans.__('Enter an OBS path like obs://bucket/folder/'));
      return;
    }
    await props.settings.set(chosen);
    props.onConfirm(chosen);
  };
  return (
    <div className="ma-Upload-transit">
      <button
        className="jp-mod-styled ma-Upload-return"
        onClick={props.onCancel}
      >
        {trans.__('RETURN AND CANCEL')}
      </button>
      <div className="ma-Upload-transitTitle">
        {trans.__('Set the OBS transit path')}
        <button
          className="jp-mod-styled ma-Upload-useDefault"
          onClick={() => void confirm('')}
          title={defaultPath}
        >
          {trans.__('USE DEFAULT')}
        </button>
      </div>
      <div className="ma-Upload-transitRow">
        <input
          className="jp-mod-styled ma-Upload-transitInput"
          value={path}
          placeholder={trans.__(
            'Enter the OBS transit path, select a path from OBS File Browser, or use the default path'
          )}
          onChange={e => {
            setPath(e.target.value);
            setError('');
          }}
          onKeyDown={e => {
            if (e.key === 'Enter') {
              void confirm(path);
            }
          }}
        />
        <button
          className="jp-mod-styled jp-mod-accept ma-Upload-confirm"
          onClick={() => void confirm(path)}
        >
          {trans.__('CONFIRM')}
        </button>
      </div>
      {error ? <div className="ma-Upload-error">{error}</div> : null}
      {props.renderObsBrowser ? (
        <ObsBrowserToggle
          trans={trans}
          render={props.renderObsBrowser}
          onPick={setPath}
        />
      ) : null}
    </div>
  );
}

/** The Local tab: pick or drop files; the table shows the shared queue. */
export function LocalTab(props: ILocalTabProps): JSX.Element {
  const { queue, context, trans } = props;
  const input = React.useRef<HTMLInputElement>(null);
  const [dragging, setDragging] = React.useState(false);
  const [transitFor, setTransitFor] = React.useState<
    IUploadItem | 'settings' | null
  >(null);
  const onFiles = (files: File[]) => {
    if (files.length) {
      queue.add(files, context.path);
    }
  };
  const [serverTasks, followServer] = useTasks('upload.transit');
  const followed = new Set(queue.items.map(i => i.taskId));
  // server pulls this tab does not drive (started before a reload or a server restart);
  // once shown, a row stays so the outcome of a Resume is seen
  const shownDetached = React.useRef(new Set<string>());
  const detached = serverTasks.filter(t => {
    if (followed.has(t.id)) {
      return false;
    }
    if (['queued', 'running', 'interrupted'].includes(t.state)) {
      shownDetached.current.add(t.id);
    }
    return shownDetached.current.has(t.id);
  });
  const onTransit = async (item: IUploadItem) => {
    const check = await (queue.transit?.available() ??
      Promise.resolve({ ok: false, reason: 'OBS is off' }));
    if (!check.ok) {
      queue.fail(
        item,
        trans.__('OBS transit is not available: %1', check.reason ?? '')
      );
      return;
    }
    const remembered = props.transitSettings.get();
    if (remembered) {
      queue.useTransit(item, serverTransitPath(remembered));
    } else {
      setTransitFor(item);
    }
  };
  if (transitFor) {
    return (
      <div className="ma-Upload ma-Upload-local">
        <TransitPathForm
          trans={trans}
          settings={props.transitSettings}
          renderObsBrowser={props.renderObsBrowser}
          onCancel={() => setTransitFor(null)}
          onConfirm={path => {
            if (transitFor !== 'settings') {
              queue.useTransit(transitFor, path);
            }
            setTransitFor(null);
          }}
        />
      </div>
    );
  }
  return (
    <div className="ma-Upload ma-Upload-local">
      <div
        className={`ma-Upload-drop${dragging ? ' ma-mod-dragging' : ''}`}
        onDragOver={e => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={e => {
          e.preventDefault();
          setDragging(false);
          const { files, folders } = collectDrop(e.dataTransfer);
          for (const folder of folders) {
            queue.addFolder(folder, context.path);
          }
          onFiles(files);
        }}
      >
        <span>
          {trans.__('Drag files here, or')}{' '}
          <button
            className="jp-mod-styled jp-mod-accept ma-Upload-select"
            onClick={() => input.current?.click()}
          >
            {trans.__('SELECT FILES')}
          </button>
        </span>
        <span className="ma-Upload-hint">
          {trans.__(
            'Up to %1 MB upload directly; larger files go through OBS transit. Folders: compress them first.',
            Math.round(queue.limits.direct_max_bytes / 1e6)
          )}
        </span>
        <input
          ref={input}
          type="file"
          multiple
          className="ma-Upload-input"
          onChange={e => {
            onFiles(Array.from(e.target.files ?? []));
            e.target.value = '';
          }}
        />
      </div>
      <UploadTable
        queue={queue}
        trans={trans}
        onTransit={item => void onTransit(item)}
      />
      {detached.length ? (
        <div className="ma-Upload-list">
          <div className="ma-Upload-summary">
            {detached.some(t => t.state === 'interrupted')
              ? trans.__('Interrupted by a server restart')
              : trans.__('Copying from OBS on the server')}
          </div>
          <table className="ma-Upload-table">
            <tbody>
              {detached.map(t => (
                <TaskRow
                  key={t.id}
                  task={t}
                  trans={trans}
                  onChange={followServer}
                />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <div className="ma-Upload-footer">
        <button
          className="jp-mod-styled ma-Upload-transitSettings"
          onClick={() => setTransitFor('settings')}
          title={trans.__('Set the OBS transit path')}
        >
          {trans.__(
            'OBS transit path: %1',
            serverTransitPath(props.transitSettings.get()) ||
              trans.__('server default')
          )}
        </button>
      </div>
    </div>
  );
}
