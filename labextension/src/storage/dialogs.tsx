import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';
import { ObsBrowser } from '../obs';
import { IVolume, currentGb, proposedName } from './model';

/** What the Mount Storage dialog returns. */
export interface IMountChoice {
  uri: string;
  name: string;
  readOnly: boolean;
}

function MountForm(props: {
  trans: TranslationBundle;
  onChange: (choice: IMountChoice) => void;
}): JSX.Element {
  const { trans } = props;
  const [uri, setUri] = React.useState('');
  const [name, setName] = React.useState('');
  const [edited, setEdited] = React.useState(false);
  const [readOnly, setReadOnly] = React.useState(false);

  React.useEffect(() => {
    props.onChange({ uri, name, readOnly });
  }, [uri, name, readOnly]);

  const pick = (path: string) => {
    setUri(path);
    if (!edited) {
      setName(proposedName(path));
    }
  };

  return (
    <div className="ma-StorageMount">
      <p className="ma-StorageMount-help">
        {trans.__(
          'Pick the OBS folder to mount (open a bucket, then click a folder).'
        )}
      </p>
      <div className="ma-StorageMount-browser">
        <ObsBrowser
          trans={trans}
          onNavigate={path => (path !== 'obs://' ? pick(path) : undefined)}
          onSelect={entry => {
            if (entry?.type === 'directory') {
              pick(entry.path);
            }
          }}
        />
      </div>
      <label className="ma-StorageMount-field">
        {trans.__('Storage path')}
        <input
          className="jp-mod-styled ma-StorageMount-uri"
          value={uri}
          placeholder="obs://bucket/folder/"
          onChange={e => setUri(e.target.value)}
        />
      </label>
      <label className="ma-StorageMount-field">
        {trans.__('Mount path')}
        <span className="ma-StorageMount-prefix">/data/</span>
        <input
          className="jp-mod-styled ma-StorageMount-name"
          value={name}
          placeholder={trans.__('name')}
          onChange={e => {
            setEdited(true);
            setName(e.target.value);
          }}
        />
        <span>/</span>
      </label>
      <label className="ma-StorageMount-check">
        <input
          type="checkbox"
          className="ma-StorageMount-readonly"
          checked={readOnly}
          onChange={e => setReadOnly(e.target.checked)}
        />
        {trans.__('Read-only')}
      </label>
    </div>
  );
}

/** The Mount Storage dialog's body: an OBS folder picker and the /data/<name> folder. */
export class MountDialogBody extends ReactWidget {
  constructor(private trans: TranslationBundle) {
    super();
    this.addClass('ma-StorageMountDialog');
  }

  getValue(): IMountChoice {
    return this._choice;
  }

  render(): JSX.Element {
    return <MountForm trans={this.trans} onChange={c => (this._choice = c)} />;
  }

  private _choice: IMountChoice = { uri: '', name: '', readOnly: false };
}

function ExpandForm(props: {
  trans: TranslationBundle;
  volume: IVolume;
  onChange: (gb: number) => void;
}): JSX.Element {
  const { trans, volume } = props;
  const current = currentGb(volume);
  const room = Math.max(
    0,
    Math.min(volume.max_step_gb, Math.floor(volume.max_total_gb - current))
  );
  const [value, setValue] = React.useState(Math.min(10, room));
  React.useEffect(() => {
    props.onChange(value);
  }, [value]);
  const valid = Number.isInteger(value) && value > 0 && value <= room;
  return (
    <div className="ma-StorageExpand">
      <p>
        {trans.__(
          'The disk grows online, without a restart. At most %1 GB can be added in one step, and the disk can be at most %2 GB in total.',
          volume.max_step_gb,
          volume.max_total_gb
        )}
      </p>
      <p>
        {trans.__('Current size: %1 GB', current.toFixed(current % 1 ? 1 : 0))}
      </p>
      <label className="ma-StorageExpand-field">
        {trans.__('Increase by (GB)')}
        <input
          type="number"
          className="jp-mod-styled ma-StorageExpand-increase"
          min={1}
          max={room}
          step={1}
          value={Number.isNaN(value) ? '' : value}
          onChange={e => setValue(parseInt(e.target.value, 10))}
        />
      </label>
      <p className={`ma-StorageExpand-after${valid ? '' : ' ma-mod-error'}`}>
        {valid
          ? trans.__(
              'Size after expansion: %1 GB',
              (current + value).toFixed(current % 1 ? 1 : 0)
            )
          : trans.__('Enter a whole number of GB from 1 to %1.', room)}
      </p>
    </div>
  );
}

/** The Expansion dialog's body: the increase, the limits and the size after growth. */
export class ExpandDialogBody extends ReactWidget {
  constructor(
    private trans: TranslationBundle,
    private volume: IVolume
  ) {
    super();
    this.addClass('ma-StorageExpandDialog');
  }

  getValue(): number {
    return this._value;
  }

  render(): JSX.Element {
    return (
      <ExpandForm
        trans={this.trans}
        volume={this.volume}
        onChange={v => (this._value = v)}
      />
    );
  }

  private _value = 0;
}
