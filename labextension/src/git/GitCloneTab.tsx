import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';
import { MaRequestError, cancelTask, requestAPI, watchTask } from '../request';
import { IAddFilesContext, ITask } from '../tokens';

/** A branch as GET git/branches lists it. */
interface IBranch {
  name: string;
  commit: string;
}

interface IBranches {
  url: string;
  name: string;
  default: string | null;
  branches: IBranch[];
}

/** One file or folder of a preview. */
interface IEntry {
  path: string;
  type: 'file' | 'folder' | 'submodule';
}

interface IPreview {
  branch: string;
  commit: string;
  entries: IEntry[];
  truncated: boolean;
}

interface ITreeNode {
  path: string;
  name: string;
  type: IEntry['type'];
  children: ITreeNode[];
}

/** What the tab needs from its plugin. */
export interface IGitCloneOptions {
  trans: TranslationBundle;
  context: IAddFilesContext;
  /** Called with the clone's folder (relative to the server root) once it is in place. */
  onCloned: (path: string) => void;
  /** Why cloning is unavailable on this server, if it is. */
  unavailable?: Promise<string | null>;
}

const AUTH_REASONS = ['auth_required', 'auth_failed'];

function buildTree(entries: IEntry[]): ITreeNode[] {
  const root: ITreeNode = { path: '', name: '', type: 'folder', children: [] };
  const nodes = new Map<string, ITreeNode>([['', root]]);
  const sorted = [...entries].sort((a, b) => a.path.localeCompare(b.path));
  for (const entry of sorted) {
    const slash = entry.path.lastIndexOf('/');
    const parentPath = slash >= 0 ? entry.path.slice(0, slash) : '';
    const node: ITreeNode = {
      path: entry.path,
      name: entry.path.slice(slash + 1),
      type: entry.type,
      children: []
    };
    nodes.set(entry.path, node);
    (nodes.get(parentPath) ?? root).children.push(node);
  }
  const order = (list: ITreeNode[]) => {
    list.sort((a, b) =>
      a.type === b.type
        ? a.name.localeCompare(b.name)
        : a.type === 'folder'
          ? -1
          : b.type === 'folder'
            ? 1
            : 0
    );
    list.forEach(n => order(n.children));
  };
  order(root.children);
  return root.children;
}

function folderNameFor(url: string): string {
  const trimmed = url.trim().replace(/\/+$/, '');
  const last = trimmed.split(/[/:]/).pop() ?? '';
  return last.replace(/\.git$/, '');
}

/** The Git tab: URL, branch, files preview with checkboxes, clone with progress. */
function GitClone(props: IGitCloneOptions): JSX.Element {
  const { trans, context } = props;
  const [url, setUrl] = React.useState('');
  const [username, setUsername] = React.useState('');
  const [token, setToken] = React.useState('');
  const [needAuth, setNeedAuth] = React.useState(false);
  const [branches, setBranches] = React.useState<IBranch[]>([]);
  const [branch, setBranch] = React.useState('');
  const [loading, setLoading] = React.useState<string | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [preview, setPreview] = React.useState<IPreview | null>(null);
  const [expanded, setExpanded] = React.useState<Set<string>>(new Set());
  const [checked, setChecked] = React.useState<Set<string>>(new Set());
  const [name, setName] = React.useState('');
  const [nameEdited, setNameEdited] = React.useState(false);
  const [conflict, setConflict] = React.useState<string | null>(null);
  const [task, setTask] = React.useState<ITask | null>(null);
  const [unavailable, setUnavailable] = React.useState<string | null>(null);
  const request = React.useRef(0);
  const previewRequest = React.useRef(0);

  const credentials = () =>
    token ? { username: username || undefined, token } : {};

  const fail = (e: unknown) => {
    const err = e as MaRequestError;
    if (err.reason && AUTH_REASONS.includes(err.reason)) {
      setNeedAuth(true);
    }
    setError(err.message);
  };

  React.useEffect(() => {
    void props.unavailable?.then(reason => setUnavailable(reason));
    // Resume following a clone that is still running (the dialog may have been closed).
    requestAPI<{ tasks: ITask[] }>('tasks?kind=git-clone')
      .then(data => {
        const running = data.tasks.find(
          t => t.state === 'running' || t.state === 'queued'
        );
        if (running) {
          void follow(running);
          return;
        }
        // A clone the server was running when it stopped: offer to discard it.
        const interrupted = data.tasks.find(t => t.state === 'interrupted');
        if (interrupted) {
          setTask(interrupted);
        }
      })
      .catch(() => undefined);
  }, []);

  const loadBranches = React.useCallback(
    async (target: string) => {
      const id = ++request.current;
      previewRequest.current++;
      setBranches([]);
      setPreview(null);
      setChecked(new Set());
      setError(null);
      if (!target.trim()) {
        return;
      }
      setLoading(trans.__('Loading branches…'));
      try {
        const data = await requestAPI<IBranches>('git/branches', {
          method: 'POST',
          body: JSON.stringify({ url: target, ...credentials() })
        });
        if (id !== request.current) {
          return;
        }
        setBranches(data.branches);
        setBranch(data.default ?? data.branches[0]?.name ?? '');
        if (!nameEdited) {
          setName(data.name);
        }
        if (data.branches.length === 0) {
          setError(trans.__('The repository has no branches yet.'));
        }
      } catch (e) {
        if (id === request.current) {
          fail(e);
        }
      } finally {
        if (id === request.current) {
          setLoading(null);
        }
      }
    },
    [username, token, nameEdited]
  );

  // Load branches shortly after the URL stops changing.
  React.useEffect(() => {
    if (!nameEdited) {
      setName(folderNameFor(url));
    }
    const timer = window.setTimeout(() => void loadBranches(url), 500);
    return () => window.clearTimeout(timer);
  }, [url]);

  const loadPreview = async () => {
    const id = ++previewRequest.current;
    setError(null);
    setLoading(trans.__('Loading the file list…'));
    try {
      const data = await requestAPI<IPreview>('git/preview', {
        method: 'POST',
        body: JSON.stringify({ url, branch, ...credentials() })
      });
      if (id === previewRequest.current) {
        setPreview(data);
        setChecked(new Set());
        setExpanded(new Set());
      }
    } catch (e) {
      if (id === previewRequest.current) {
        fail(e);
      }
    } finally {
      if (id === previewRequest.current) {
        setLoading(null);
      }
    }
  };

  // Show the files of the chosen branch as soon as it is known (contents are not downloaded).
  React.useEffect(() => {
    if (branch && branches.some(b => b.name === branch)) {
      void loadPreview();
    }
  }, [branch, branches]);

  const follow = async (started: ITask) => {
    setTask(started);
    try {
      const final = await watchTask(started.id, setTask);
      if (final.state === 'succeeded') {
        props.onCloned(final.result?.path ?? final.meta.path);
      } else if (final.state === 'failed') {
        if (final.error_reason && AUTH_REASONS.includes(final.error_reason)) {
          setNeedAuth(true);
        }
        setError(final.error ?? trans.__('The clone failed.'));
      }
    } catch (e) {
      setError((e as Error).message);
    }
  };

  const clone = async (overwrite: boolean) => {
    setError(null);
    setConflict(null);
    try {
      const started = await requestAPI<ITask>('git/clone', {
        method: 'POST',
        body: JSON.stringify({
          url,
          branch: branch || undefined,
          path: context.path,
          name,
          paths: [...checked],
          overwrite,
          ...credentials()
        })
      });
      await follow(started);
    } catch (e) {
      const err = e as MaRequestError;
      if (err.status === 409 && err.reason === 'exists') {
        setConflict(err.message);
      } else {
        fail(e);
      }
    }
  };

  const isChecked = (path: string): 'self' | 'parent' | null => {
    if (checked.has(path)) {
      return 'self';
    }
    const parts = path.split('/');
    for (let i = parts.length - 1; i > 0; i--) {
      if (checked.has(parts.slice(0, i).join('/'))) {
        return 'parent';
      }
    }
    return null;
  };

  const toggle = (path: string) => {
    const next = new Set(checked);
    if (next.has(path)) {
      next.delete(path);
    } else {
      for (const p of next) {
        if (p.startsWith(path + '/')) {
          next.delete(p);
        }
      }
      next.add(path);
    }
    setChecked(next);
  };

  const tree = React.useMemo(
    () => (preview ? buildTree(preview.entries) : []),
    [preview]
  );

  const renderNodes = (nodes: ITreeNode[], depth: number): JSX.Element[] =>
    nodes.map(node => {
      const state = isChecked(node.path);
      const open = expanded.has(node.path);
      const isFolder = node.type === 'folder';
      return (
        <li key={node.path} data-path={node.path}>
          <div
            className="ma-GitClone-node"
            style={{ paddingLeft: `${depth * 16}px` }}
          >
            <span
              className={`ma-GitClone-caret${isFolder ? '' : ' ma-mod-leaf'}`}
              role={isFolder ? 'button' : undefined}
              aria-label={
                isFolder
                  ? open
                    ? trans.__('Collapse %1', node.name)
                    : trans.__('Expand %1', node.name)
                  : undefined
              }
              onClick={() => {
                if (!isFolder) {
                  return;
                }
                const next = new Set(expanded);
                if (open) {
                  next.delete(node.path);
                } else {
                  next.add(node.path);
                }
                setExpanded(next);
              }}
            >
              {isFolder ? (open ? '▾' : '▸') : ''}
            </span>
            <label>
              <input
                type="checkbox"
                checked={state !== null}
                disabled={state === 'parent' || node.type === 'submodule'}
                onChange={() => toggle(node.path)}
              />
              <span className={isFolder ? 'ma-GitClone-folder' : ''}>
                {node.name}
                {isFolder ? '/' : ''}
              </span>
            </label>
          </div>
          {isFolder && open && node.children.length > 0 && (
            <ul>{renderNodes(node.children, depth + 1)}</ul>
          )}
        </li>
      );
    });

  const running = task !== null && ['queued', 'running'].includes(task.state);
  const destination = `/${[context.path, name].filter(p => p).join('/')}`;

  if (unavailable) {
    return <div className="ma-GitClone-error">{unavailable}</div>;
  }

  return (
    <div className="ma-GitClone">
      <label className="ma-GitClone-row">
        <span>{trans.__('Repository URL')}</span>
        <input
          className="jp-mod-styled ma-GitClone-url"
          type="text"
          placeholder="https://github.com/owner/repo.git"
          value={url}
          disabled={running}
          onChange={e => setUrl(e.target.value)}
          onKeyDown={e => {
            if (e.key === 'Enter') {
              void loadBranches(url);
            }
          }}
        />
      </label>
      {needAuth && (
        <div className="ma-GitClone-auth">
          <p>
            {trans.__(
              'This repository needs a username and a personal access token. They are used for this request only and are not stored.'
            )}
          </p>
          <label className="ma-GitClone-row">
            <span>{trans.__('Username')}</span>
            <input
              className="jp-mod-styled ma-GitClone-username"
              type="text"
              autoComplete="username"
              value={username}
              onChange={e => setUsername(e.target.value)}
            />
          </label>
          <label className="ma-GitClone-row">
            <span>{trans.__('Access token')}</span>
            <input
              className="jp-mod-styled ma-GitClone-token"
              type="password"
              autoComplete="off"
              value={token}
              onChange={e => setToken(e.target.value)}
            />
          </label>
          <button
            className="jp-mod-styled jp-mod-accept ma-GitClone-signin"
            disabled={!token}
            onClick={() => void loadBranches(url)}
          >
            {trans.__('Continue')}
          </button>
        </div>
      )}
      {branches.length > 0 && (
        <>
          <label className="ma-GitClone-row">
            <span>{trans.__('Branch')}</span>
            <select
              className="jp-mod-styled ma-GitClone-branch"
              value={branch}
              disabled={running}
              onChange={e => {
                setBranch(e.target.value);
                setPreview(null);
                setChecked(new Set());
              }}
            >
              {branches.map(b => (
                <option key={b.name} value={b.name}>
                  {b.name}
                </option>
              ))}
            </select>
            <button
              className="jp-mod-styled ma-GitClone-preview"
              disabled={running || loading !== null}
              onClick={() => void loadPreview()}
            >
              {trans.__('Files preview')}
            </button>
          </label>
          <label className="ma-GitClone-row">
            <span>{trans.__('Folder name')}</span>
            <input
              className="jp-mod-styled ma-GitClone-name"
              type="text"
              value={name}
              disabled={running}
              onChange={e => {
                setName(e.target.value);
                setNameEdited(true);
              }}
            />
          </label>
        </>
      )}
      {preview && (
        <div className="ma-GitClone-tree">
          <div className="ma-GitClone-hint">
            {checked.size === 0
              ? trans.__(
                  'Tick files or folders to clone only those; nothing ticked clones everything.'
                )
              : trans._n('%1 item selected', '%1 items selected', checked.size)}
            {preview.truncated &&
              ' ' +
                trans.__('(the list is truncated: the repository is large)')}
          </div>
          <ul>{renderNodes(tree, 0)}</ul>
        </div>
      )}
      {loading && <div className="ma-GitClone-status">{loading}</div>}
      {error && <div className="ma-GitClone-error">{error}</div>}
      {conflict && (
        <div className="ma-GitClone-conflict">
          <span>{conflict}</span>
          <button
            className="jp-mod-styled jp-mod-warn ma-GitClone-overwrite"
            onClick={() => void clone(true)}
          >
            {trans.__('Overwrite')}
          </button>
          <button
            className="jp-mod-styled jp-mod-reject"
            onClick={() => setConflict(null)}
          >
            {trans.__('Cancel')}
          </button>
        </div>
      )}
      {task && (
        <div className="ma-GitClone-task" data-state={task.state}>
          <div>
            {task.state === 'succeeded'
              ? trans.__('Cloned into /%1', task.result?.path ?? '')
              : task.state === 'interrupted'
                ? trans.__(
                    'The server stopped during this clone of %1; clone it again or discard it.',
                    task.meta.url ?? ''
                  )
                : task.state === 'cancelled'
                  ? trans.__('Clone cancelled; nothing was left behind.')
                  : task.state === 'failed'
                    ? trans.__('Clone failed.')
                    : `${task.phase || trans.__('Starting')}${
                        task.percent !== null
                          ? ` ${Math.round(task.percent)}%`
                          : ''
                      }`}
          </div>
          {task.state === 'interrupted' && (
            <button
              className="jp-mod-styled ma-GitClone-discard"
              onClick={() =>
                void cancelTask(task.id).then(setTask, e =>
                  setError((e as Error).message)
                )
              }
            >
              {trans.__('Discard')}
            </button>
          )}
          {running && (
            <progress
              className="ma-GitClone-progress"
              max={100}
              value={task.percent ?? undefined}
            />
          )}
        </div>
      )}
      <div className="ma-GitClone-actions">
        {running ? (
          <button
            className="jp-mod-styled jp-mod-reject ma-GitClone-cancel"
            onClick={() => task && void cancelTask(task.id)}
          >
            {trans.__('Cancel clone')}
          </button>
        ) : (
          <button
            className="jp-mod-styled jp-mod-accept ma-GitClone-clone"
            disabled={
              !url.trim() ||
              !name.trim() ||
              loading !== null ||
              (error !== null && branches.length === 0)
            }
            title={trans.__('Clone into %1', destination)}
            onClick={() => void clone(false)}
          >
            {checked.size > 0
              ? trans.__('Clone selected into %1', destination)
              : trans.__('Clone into %1', destination)}
          </button>
        )}
      </div>
    </div>
  );
}

/** The Git tab's widget. */
export class GitCloneTab extends ReactWidget {
  constructor(private options: IGitCloneOptions) {
    super();
    this.addClass('ma-GitCloneTab');
  }

  protected render(): JSX.Element {
    return <GitClone {...this.options} />;
  }
}
