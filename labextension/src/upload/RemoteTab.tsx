import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';
import {
  MaRequestError,
  cancelTask,
  formatBytes,
  requestAPI,
  resumeTask,
  watchTask
} from '../request';
import { IAddFilesContext, ITask } from '../tokens';
import { ProgressBar, formatSpeed } from './components';

interface IProbe {
  url: string;
  name: string;
  size: number | null;
  content_type: string | null;
}

/** An import tab's error, Overwrite/Cancel prompt and task rows. */
export function ImportStatus(props: {
  trans: TranslationBundle;
  error: string;
  conflict: boolean;
  tasks: ITask[];
  onOverwrite: () => void;
  onDismiss: () => void;
  onTask?: (task: ITask) => void;
}): JSX.Element {
  const { trans, error, conflict, tasks } = props;
  return (
    <>
      {error ? <div className="ma-Upload-error">{error}</div> : null}
      {conflict ? (
        <div className="ma-Upload-conflict">
          <button
            className="jp-mod-styled jp-mod-warn"
            onClick={props.onOverwrite}
          >
            {trans.__('Overwrite')}
          </button>
          <button className="jp-mod-styled" onClick={props.onDismiss}>
            {trans.__('Cancel')}
          </button>
        </div>
      ) : null}
      {tasks.length ? (
        <table className="ma-Upload-table">
          <tbody>
            {tasks.map(t => (
              <TaskRow
                key={t.id}
                task={t}
                trans={trans}
                onChange={props.onTask}
              />
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}

/**
 * One server task row (URL or OBS import, transit pull) with progress and Cancel;
 * an interrupted one (the server stopped meanwhile) offers Resume and Discard.
 */
export function TaskRow(props: {
  task: ITask;
  trans: TranslationBundle;
  /** Called with the task a Resume or Discard answered (to follow it). */
  onChange?: (task: ITask) => void;
}): JSX.Element {
  const { task, trans } = props;
  const [actionError, setActionError] = React.useState('');
  const act = async (action: (id: string) => Promise<ITask>) => {
    setActionError('');
    try {
      props.onChange?.(await action(task.id));
    } catch (e) {
      setActionError((e as Error).message);
    }
  };
  let status: React.ReactNode;
  switch (task.state) {
    case 'succeeded':
      status = trans.__('uploaded successfully');
      break;
    case 'failed':
      status = task.error;
      break;
    case 'cancelled':
      status = trans.__('Cancelled');
      break;
    case 'interrupted':
      status = task.total
        ? trans.__(
            'Interrupted at %1 of %2',
            formatBytes(task.done),
            formatBytes(task.total)
          )
        : trans.__('Interrupted');
      break;
    default:
      status = (
        <>
          <ProgressBar done={task.done} total={task.total ?? 0} />
          <span className="ma-Upload-speed">{formatSpeed(task.rate)}</span>
        </>
      );
  }
  return (
    <tr
      className="ma-Upload-row"
      data-state={task.state}
      data-name={task.meta.name}
    >
      <td className="ma-Upload-name">{task.meta.name ?? task.title}</td>
      <td className="ma-Upload-status">
        <span className="ma-Upload-state">{status}</span>
        {actionError ? (
          <span className="ma-Upload-error">{actionError}</span>
        ) : null}
      </td>
      <td className="ma-Upload-actions">
        {['queued', 'running'].includes(task.state) ? (
          <button
            className="jp-mod-styled ma-Upload-action"
            onClick={() => void cancelTask(task.id)}
          >
            {trans.__('Cancel')}
          </button>
        ) : null}
        {task.state === 'interrupted' && task.resumable ? (
          <button
            className="jp-mod-styled jp-mod-accept ma-Upload-action ma-Upload-resume"
            onClick={() => void act(resumeTask)}
          >
            {trans.__('Resume')}
          </button>
        ) : null}
        {task.state === 'interrupted' ? (
          <button
            className="jp-mod-styled ma-Upload-action ma-Upload-discard"
            onClick={() => void act(cancelTask)}
          >
            {trans.__('Discard')}
          </button>
        ) : null}
      </td>
    </tr>
  );
}

/** Follows server tasks of one kind: running ones are reattached when the tab opens. */
export function useTasks(kind: string): [ITask[], (task: ITask) => void] {
  const [tasks, setTasks] = React.useState<Record<string, ITask>>({});
  const controller = React.useRef(new AbortController());
  const follow = React.useCallback((task: ITask) => {
    setTasks(t => ({ ...t, [task.id]: task }));
    void watchTask(
      task.id,
      t => setTasks(all => ({ ...all, [t.id]: t })),
      controller.current.signal
    ).catch(() => undefined);
  }, []);
  React.useEffect(() => {
    void requestAPI<{ tasks: ITask[] }>(`tasks?kind=${kind}`).then(
      data => {
        for (const task of data.tasks.slice(0, 10).reverse()) {
          if (['queued', 'running'].includes(task.state)) {
            follow(task);
          } else {
            setTasks(t => ({ ...t, [task.id]: task }));
          }
        }
      },
      () => undefined
    );
    return () => controller.current.abort();
  }, [kind]);
  const list = Object.values(tasks).sort((a, b) => b.created - a.created);
  return [list, follow];
}

/** An import tab's submission: busy flag, error, the 409 Overwrite prompt and its tasks. */
export function useImport(
  kind: string,
  endpoint: string
): {
  tasks: ITask[];
  follow: (task: ITask) => void;
  busy: boolean;
  error: string;
  setError: (message: string) => void;
  conflict: boolean;
  submit: (body: Record<string, unknown>) => Promise<void>;
  dismiss: () => void;
} {
  const [error, setError] = React.useState('');
  const [busy, setBusy] = React.useState(false);
  const [conflict, setConflict] = React.useState(false);
  const [tasks, follow] = useTasks(kind);
  const submit = async (body: Record<string, unknown>) => {
    setBusy(true);
    setError('');
    try {
      const task = await requestAPI<ITask>(endpoint, {
        method: 'POST',
        body: JSON.stringify(body)
      });
      setConflict(false);
      follow(task);
    } catch (e) {
      setError((e as Error).message);
      setConflict(e instanceof MaRequestError && e.status === 409);
    } finally {
      setBusy(false);
    }
  };
  const dismiss = React.useCallback(() => {
    setConflict(false);
    setError('');
  }, []);
  return { tasks, follow, busy, error, setError, conflict, submit, dismiss };
}

/** The Remote tab: a URL -> the current folder, name shown before the upload. */
export function RemoteTab(props: {
  context: IAddFilesContext;
  trans: TranslationBundle;
}): JSX.Element {
  const { context, trans } = props;
  const [url, setUrl] = React.useState('');
  const [probe, setProbe] = React.useState<IProbe | null>(null);
  const { tasks, follow, busy, error, setError, conflict, submit, dismiss } =
    useImport('upload.url', 'upload/url');
  React.useEffect(() => {
    setProbe(null);
    dismiss();
    if (!/^https?:\/\/./.test(url.trim())) {
      return;
    }
    let stale = false;
    const timer = setTimeout(() => {
      requestAPI<IProbe>('upload/url/probe', {
        method: 'POST',
        body: JSON.stringify({ url: url.trim() })
      }).then(
        p => !stale && setProbe(p),
        (e: Error) => !stale && setError(e.message)
      );
    }, 400);
    return () => {
      stale = true;
      clearTimeout(timer);
    };
  }, [url]);
  const upload = (overwrite: boolean) =>
    submit({
      url: url.trim(),
      path: context.path,
      name: probe?.name ?? '',
      overwrite
    });
  return (
    <div className="ma-Upload ma-Upload-remote">
      <div className="ma-Upload-title">{trans.__('Remote file upload')}</div>
      <div className="ma-Upload-transitRow">
        <input
          className="jp-mod-styled ma-Upload-urlInput"
          value={url}
          placeholder={trans.__('Enter the remote file URL')}
          onChange={e => setUrl(e.target.value)}
        />
        <button
          className="jp-mod-styled jp-mod-accept ma-Upload-uploadUrl"
          disabled={busy || !url.trim()}
          onClick={() => void upload(false)}
        >
          {trans.__('UPLOAD')}
        </button>
      </div>
      <div className="ma-Upload-hint">
        {trans.__(
          'The URL must download a file directly, for example http://yann.lecun.com/exdb/mnist/train-images-idx3-ubyte.gz'
        )}
      </div>
      {probe ? (
        <div className="ma-Upload-probe">
          {trans.__('The file you want to upload is %1', probe.name)}
          {probe.size !== null ? ` (${formatBytes(probe.size)})` : ''}
        </div>
      ) : null}
      <ImportStatus
        trans={trans}
        error={error}
        conflict={conflict}
        tasks={tasks}
        onOverwrite={() => void upload(true)}
        onDismiss={dismiss}
        onTask={follow}
      />
    </div>
  );
}
