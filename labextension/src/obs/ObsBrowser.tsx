import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';
import { formatBytes, requestAPI } from '../request';

/** One bucket, folder or file as the OBS REST API lists it. */
export interface IObsEntry {
  name: string;
  path: string;
  type: 'directory' | 'file';
  size: number | null;
  etag?: string | null;
  last_modified: number | null;
}

/** Which object store the server uses (never secrets). */
export interface IObsStoreInfo {
  store: 'embedded' | 'endpoint';
  root?: string;
  endpoint?: string;
  region?: string;
}

interface IListPage {
  path: string;
  entries: IObsEntry[];
  next_cursor: string | null;
}

/** Properties of the OBS file browser. */
export interface IObsBrowserProps {
  trans: TranslationBundle;
  /** Where to start, e.g. `obs://bucket/folder/`; default: the bucket list. */
  initialPath?: string;
  /** Entries per page (the server allows up to 1000). */
  pageSize?: number;
  /** Called when the user selects an entry (picker use); `null` clears it. */
  onSelect?: (entry: IObsEntry | null) => void;
  /** Called when the current folder changes. */
  onNavigate?: (path: string) => void;
}

/** The folder above an obs:// path (`obs://` for a bucket). */
export function parentPath(path: string): string {
  const rest = path.replace(/^obs:\/\//, '').replace(/\/$/, '');
  if (!rest.includes('/')) {
    return 'obs://';
  }
  return `obs://${rest.slice(0, rest.lastIndexOf('/') + 1)}`;
}

function crumbs(path: string): { label: string; path: string }[] {
  const rest = path.replace(/^obs:\/\//, '');
  const parts = rest.split('/').filter(p => p.length > 0);
  const out = [{ label: 'obs://', path: 'obs://' }];
  let acc = 'obs://';
  for (const part of parts) {
    acc += `${part}/`;
    out.push({ label: part, path: acc });
  }
  return out;
}

/** A label saying which store is in use. */
export function storeLabel(
  trans: TranslationBundle,
  info: IObsStoreInfo | null
): string {
  if (!info) {
    return '';
  }
  if (info.store === 'embedded') {
    return trans.__('Embedded local store');
  }
  return trans.__(
    'Endpoint %1%2',
    info.endpoint ?? '',
    info.region ? ` (${info.region})` : ''
  );
}

/**
 * The OBS file browser: buckets, folders and files with paging and a name
 * filter. Reusable as a picker (`onSelect`).
 */
export function ObsBrowser(props: IObsBrowserProps): JSX.Element {
  const { trans } = props;
  const pageSize = props.pageSize ?? 100;
  const [path, setPath] = React.useState(props.initialPath ?? 'obs://');
  const [filter, setFilter] = React.useState('');
  const [entries, setEntries] = React.useState<IObsEntry[]>([]);
  const [cursor, setCursor] = React.useState<string | null>(null);
  const [store, setStore] = React.useState<IObsStoreInfo | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [loading, setLoading] = React.useState(false);
  const [selected, setSelected] = React.useState<string | null>(null);
  const request = React.useRef(0);

  React.useEffect(() => {
    requestAPI<{ store: IObsStoreInfo }>('obs/buckets')
      .then(data => setStore(data.store))
      .catch(e => setError((e as Error).message));
  }, []);

  const load = React.useCallback(
    async (append: boolean, from: string | null) => {
      const id = ++request.current;
      setLoading(true);
      const params = new URLSearchParams({
        path,
        limit: String(pageSize)
      });
      if (filter) {
        params.set('filter', filter);
      }
      if (append && from) {
        params.set('cursor', from);
      }
      try {
        const page = await requestAPI<IListPage>(
          `obs/list?${params.toString()}`
        );
        if (id !== request.current) {
          return;
        }
        setEntries(prev =>
          append ? [...prev, ...page.entries] : page.entries
        );
        setCursor(page.next_cursor);
        setError(null);
      } catch (e) {
        if (id === request.current) {
          setError((e as Error).message);
          if (!append) {
            setEntries([]);
            setCursor(null);
          }
        }
      } finally {
        if (id === request.current) {
          setLoading(false);
        }
      }
    },
    [path, filter, pageSize]
  );

  React.useEffect(() => {
    void load(false, null);
  }, [load]);

  const open = (target: string) => {
    setPath(target);
    setSelected(null);
    props.onSelect?.(null);
    props.onNavigate?.(target);
  };

  const onEntry = (entry: IObsEntry) => {
    setSelected(entry.path);
    props.onSelect?.(entry);
  };

  return (
    <div className="ma-ObsBrowser">
      <div className="ma-ObsBrowser-store" data-store={store?.store ?? ''}>
        {store && (
          <>
            <span className="ma-ObsBrowser-storeLabel">
              {trans.__('Object store:')}
            </span>{' '}
            <span className="ma-ObsBrowser-storeName">
              {storeLabel(trans, store)}
            </span>
          </>
        )}
      </div>
      <div className="ma-ObsBrowser-toolbar">
        <button
          className="jp-Button jp-mod-styled ma-ObsBrowser-up"
          disabled={path === 'obs://'}
          title={trans.__('Up one folder')}
          onClick={() => open(parentPath(path))}
        >
          {trans.__('Up')}
        </button>
        <div className="ma-ObsBrowser-crumbs">
          {crumbs(path).map(c => (
            <button
              key={c.path}
              className="ma-ObsBrowser-crumb"
              onClick={() => open(c.path)}
            >
              {c.label}
            </button>
          ))}
        </div>
        <input
          className="jp-mod-styled ma-ObsBrowser-filter"
          type="search"
          placeholder={trans.__('Filter by name')}
          value={filter}
          onChange={e => setFilter(e.target.value)}
        />
        <button
          className="jp-Button jp-mod-styled ma-ObsBrowser-refresh"
          disabled={loading}
          onClick={() => void load(false, null)}
        >
          {trans.__('Refresh')}
        </button>
      </div>
      {error && <div className="ma-ObsBrowser-error">{error}</div>}
      <table className="ma-ObsBrowser-table">
        <thead>
          <tr>
            <th>{trans.__('Name')}</th>
            <th>{trans.__('Type')}</th>
            <th>{trans.__('Size')}</th>
            <th>{trans.__('Last modified')}</th>
          </tr>
        </thead>
        <tbody>
          {entries.map(entry => (
            <tr
              key={entry.path}
              className={`ma-ObsBrowser-entry${
                selected === entry.path ? ' jp-mod-selected' : ''
              }`}
              data-type={entry.type}
              data-name={entry.name}
              onClick={() => onEntry(entry)}
              onDoubleClick={() =>
                entry.type === 'directory' ? open(entry.path) : undefined
              }
            >
              <td className="ma-ObsBrowser-name">
                {entry.type === 'directory' ? (
                  <a
                    href="#"
                    onClick={e => {
                      e.preventDefault();
                      open(entry.path);
                    }}
                  >
                    {entry.name}/
                  </a>
                ) : (
                  entry.name
                )}
              </td>
              <td>
                {entry.type === 'directory'
                  ? trans.__('Folder')
                  : trans.__('File')}
              </td>
              <td>{entry.type === 'file' ? formatBytes(entry.size) : ''}</td>
              <td>
                {entry.last_modified
                  ? new Date(entry.last_modified * 1000).toLocaleString()
                  : ''}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {!loading && !error && entries.length === 0 && (
        <div className="ma-ObsBrowser-empty">
          {filter
            ? trans.__('Nothing matches the filter.')
            : path === 'obs://'
              ? trans.__('No buckets yet.')
              : trans.__('This folder is empty.')}
        </div>
      )}
      {cursor && (
        <button
          className="jp-Button jp-mod-styled ma-ObsBrowser-more"
          disabled={loading}
          onClick={() => void load(true, cursor)}
        >
          {trans.__('Load more')}
        </button>
      )}
      {loading && (
        <div className="ma-ObsBrowser-loading">{trans.__('Loading…')}</div>
      )}
    </div>
  );
}
