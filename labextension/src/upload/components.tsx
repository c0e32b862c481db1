import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';
import { formatBytes } from '../request';
import { IUploadItem, UploadQueue } from './queue';

/** Re-render when the queue changes (coalesced to one render per frame). */
export function useQueue(queue: UploadQueue): void {
  const [, setTick] = React.useState(0);
  React.useEffect(() => {
    let frame = 0;
    const onChange = () => {
      if (!frame) {
        frame = requestAnimationFrame(() => {
          frame = 0;
          setTick(t => t + 1);
        });
      }
    };
    queue.changed.connect(onChange);
    return () => {
      queue.changed.disconnect(onChange);
      if (frame) {
        cancelAnimationFrame(frame);
      }
    };
  }, [queue]);
}

/** A speed for people, e.g. "50.0 MB/s". */
export function formatSpeed(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** A progress bar with its percent. */
export function ProgressBar(props: {
  done: number;
  total: number;
}): JSX.Element {
  const percent =
    props.total > 0
      ? Math.min(100, Math.floor((100 * props.done) / props.total))
      : 100;
  return (
    <span className="ma-Upload-progress">
      <span className="ma-Upload-bar">
        <span className="ma-Upload-barFill" style={{ width: `${percent}%` }} />
      </span>
      <span className="ma-Upload-percent">{percent}%</span>
    </span>
  );
}

/** One row of the upload table. */
function UploadRow(props: {
  item: IUploadItem;
  queue: UploadQueue;
  trans: TranslationBundle;
  onTransit: (item: IUploadItem) => void;
}): JSX.Element {
  const { item, queue, trans } = props;
  const button = (label: string, onClick: () => void, cls = '') => (
    <button
      className={`jp-mod-styled ma-Upload-action ${cls}`}
      onClick={onClick}
      title={label}
    >
      {label}
    </button>
  );
  let status: React.ReactNode;
  const actions: React.ReactNode[] = [];
  switch (item.state) {
    case 'awaiting':
      status = trans.__('awaiting upload');
      actions.push(button(trans.__('Cancel'), () => void queue.cancel(item)));
      break;
    case 'checking':
      status = trans.__('starting…');
      break;
    case 'conflict':
      status = item.message;
      actions.push(
        button(
          trans.__('Overwrite'),
          () => queue.overwrite(item),
          'jp-mod-warn'
        ),
        button(trans.__('Cancel'), () => void queue.cancel(item))
      );
      break;
    case 'uploading':
    case 'pulling':
      status = (
        <>
          <ProgressBar done={item.done} total={item.total} />
          <span className="ma-Upload-speed">{formatSpeed(item.speed)}</span>
          {item.state === 'pulling' ? (
            <span className="ma-Upload-phase">
              {trans.__('copying from OBS')}
            </span>
          ) : item.message ? (
            <span className="ma-Upload-phase">{item.message}</span>
          ) : null}
        </>
      );
      actions.push(button(trans.__('Cancel'), () => void queue.cancel(item)));
      break;
    case 'large':
      status = item.message;
      actions.push(
        button(
          trans.__('OBS TRANSIT'),
          () => props.onTransit(item),
          'jp-mod-accept'
        ),
        button(trans.__('Cancel'), () => void queue.cancel(item))
      );
      break;
    case 'done':
      status = (
        <>
          <ProgressBar done={1} total={1} />
          <span className="ma-Upload-speed">{formatSpeed(item.speed)}</span>
          <span className="ma-Upload-phase">
            {trans.__('uploaded successfully')}
          </span>
        </>
      );
      break;
    case 'failed':
      status = item.message;
      actions.push(button(trans.__('Retry'), () => queue.retry(item)));
      break;
    default:
      status = item.message;
  }
  return (
    <tr className="ma-Upload-row" data-state={item.state} data-name={item.name}>
      <td
        className="ma-Upload-name"
        title={item.path ? `${item.path}/${item.name}` : item.name}
      >
        {item.name}{' '}
        <span className="ma-Upload-size">({formatBytes(item.size)})</span>
        {item.resumedFrom > 0 ? (
          <span className="ma-Upload-resumed">
            {' '}
            {trans.__('resumed at %1', formatBytes(item.resumedFrom))}
          </span>
        ) : null}
      </td>
      <td className="ma-Upload-status">
        <span className="ma-Upload-state">{status}</span>
      </td>
      <td className="ma-Upload-actions">{actions}</td>
    </tr>
  );
}

/** The table of uploads of the current batch. */
export function UploadTable(props: {
  queue: UploadQueue;
  trans: TranslationBundle;
  onTransit: (item: IUploadItem) => void;
}): JSX.Element {
  useQueue(props.queue);
  const { queue, trans } = props;
  const counts = queue.counts;
  return (
    <div className="ma-Upload-list">
      <div className="ma-Upload-summary">
        {trans.__('Uploaded files (%1/%2)', counts.finished, counts.total)}
        {queue.items.length > 0 ? (
          <button
            className="jp-mod-styled ma-Upload-clear"
            onClick={() => queue.clearFinished()}
          >
            {trans.__('Clear finished')}
          </button>
        ) : null}
      </div>
      <table className="ma-Upload-table">
        <thead>
          <tr>
            <th>{trans.__('Name')}</th>
            <th>{trans.__('Status')}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {queue.items.map(item => (
            <UploadRow
              key={item.id}
              item={item}
              queue={queue}
              trans={trans}
              onTransit={props.onTransit}
            />
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The OPEN / CLOSE OBS FILE BROWSER button and, when open, the OBS browser picker. */
export function ObsBrowserToggle(props: {
  trans: TranslationBundle;
  render: (onPick: (path: string) => void) => React.ReactNode;
  onPick: (path: string) => void;
}): JSX.Element {
  const { trans } = props;
  const [browsing, setBrowsing] = React.useState(false);
  return (
    <>
      <button
        className="jp-mod-styled ma-Upload-browse"
        onClick={() => setBrowsing(!browsing)}
      >
        {browsing
          ? trans.__('CLOSE OBS FILE BROWSER')
          : trans.__('OPEN OBS FILE BROWSER')}
      </button>
      {browsing ? props.render(props.onPick) : null}
    </>
  );
}
