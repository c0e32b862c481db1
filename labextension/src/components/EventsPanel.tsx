import { ReactWidget } from '@jupyterlab/ui-components';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';
import { requestAPI } from '../request';
import { IEvent } from '../tokens';

/** Auto-refresh choices in seconds (0 = off), as the instance Event tab offers them. */
export const REFRESH_CHOICES = [0, 30, 60, 300];

interface IEventsViewProps {
  trans: TranslationBundle;
  interval: number;
  onIntervalChange: (seconds: number) => void;
  refreshSignal: number;
}

function formatTime(seconds: number): string {
  return new Date(seconds * 1000).toLocaleString();
}

function EventsView(props: IEventsViewProps): JSX.Element {
  const { trans, interval } = props;
  const [events, setEvents] = React.useState<IEvent[]>([]);
  const [error, setError] = React.useState<string | null>(null);
  const [loading, setLoading] = React.useState(false);

  const refresh = React.useCallback(async () => {
    setLoading(true);
    try {
      const data = await requestAPI<{ events: IEvent[] }>('events?limit=200');
      setEvents(data.events);
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setLoading(false);
    }
  }, []);

  React.useEffect(() => {
    void refresh();
  }, [refresh, props.refreshSignal]);

  React.useEffect(() => {
    if (!interval) {
      return;
    }
    const timer = window.setInterval(() => void refresh(), interval * 1000);
    return () => window.clearInterval(timer);
  }, [interval, refresh]);

  const label = (seconds: number): string =>
    seconds === 0
      ? trans.__('Off')
      : seconds < 60
        ? trans.__('%1 s', seconds)
        : trans.__('%1 min', seconds / 60);

  return (
    <div className="ma-Events">
      <div className="ma-Events-toolbar">
        <span className="ma-Events-title">{trans.__('Events')}</span>
        <label className="ma-Events-auto">
          {trans.__('Auto refresh')}{' '}
          <select
            className="ma-Events-interval"
            value={interval}
            onChange={e => props.onIntervalChange(Number(e.target.value))}
          >
            {REFRESH_CHOICES.map(s => (
              <option key={s} value={s}>
                {label(s)}
              </option>
            ))}
          </select>
        </label>
        <button
          className="jp-Button jp-mod-styled ma-Events-refresh"
          title={trans.__('Refresh events')}
          disabled={loading}
          onClick={() => void refresh()}
        >
          {trans.__('Refresh')}
        </button>
      </div>
      {error && <div className="ma-Events-error">{error}</div>}
      {!error && events.length === 0 && (
        <div className="ma-Events-empty">{trans.__('No events yet.')}</div>
      )}
      <ul className="ma-Events-list">
        {events.map(ev => (
          <li
            key={ev.id}
            className={`ma-Event ma-Event-${ev.severity.toLowerCase()}`}
            data-event-type={ev.type}
          >
            <div className="ma-Event-head">
              <span className="ma-Event-type">{ev.type}</span>
              <span className="ma-Event-severity">{ev.severity}</span>
            </div>
            <div className="ma-Event-message">{ev.message}</div>
            <div className="ma-Event-time">{formatTime(ev.time)}</div>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** The Events sidebar: instance events newest first, with refresh and auto refresh. */
export class EventsPanel extends ReactWidget {
  constructor(
    private trans: TranslationBundle,
    private onIntervalChange: (seconds: number) => void
  ) {
    super();
    this.addClass('ma-EventsPanel');
  }

  /** Seconds between automatic refreshes; 0 is off. */
  get interval(): number {
    return this._interval;
  }
  set interval(value: number) {
    this._interval = value;
    this.update();
  }

  /** Reload the events now. */
  refresh(): void {
    this._refreshSignal++;
    this.update();
  }

  render(): JSX.Element {
    return (
      <EventsView
        trans={this.trans}
        interval={this._interval}
        refreshSignal={this._refreshSignal}
        onIntervalChange={s => {
          this.interval = s;
          this.onIntervalChange(s);
        }}
      />
    );
  }

  private _interval = 0;
  private _refreshSignal = 0;
}
