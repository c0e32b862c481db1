import { ReactWidget } from '@jupyterlab/ui-components';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';
import { useQueue } from './components';
import { UploadQueue } from './queue';

function StatusText(props: {
  queue: UploadQueue;
  trans: TranslationBundle;
  onClick: () => void;
}): JSX.Element | null {
  useQueue(props.queue);
  const counts = props.queue.counts;
  if (counts.total === 0) {
    return null;
  }
  return (
    <span className="ma-UploadStatus" onClick={props.onClick}>
      {props.trans.__('Uploading: %1 / %2', counts.finished, counts.total)}
    </span>
  );
}

/** The status-bar item "Uploading: n / m" (uploaded / total of the current batch). */
export class UploadStatus extends ReactWidget {
  constructor(
    private queue: UploadQueue,
    private trans: TranslationBundle,
    private onOpen: () => void
  ) {
    super();
    this.addClass('ma-UploadStatus-item');
  }

  render(): JSX.Element {
    return (
      <StatusText queue={this.queue} trans={this.trans} onClick={this.onOpen} />
    );
  }
}
