import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';
import { IAddFilesContext } from '../tokens';
import { ObsBrowserToggle } from './components';
import { ImportStatus, useImport } from './RemoteTab';

/** Characters the server refuses in imported names (shown as a hint). */
const BAD_CHARS = `< > ' " ; \\ \` = # $ % ^ &`;

/** The OBS tab: an OBS file (typed or browsed) -> the current folder, as a task. */
export function ObsTab(props: {
  context: IAddFilesContext;
  trans: TranslationBundle;
  renderObsBrowser?: (onPick: (path: string) => void) => React.ReactNode;
}): JSX.Element {
  const { context, trans } = props;
  const [path, setPath] = React.useState('');
  const { tasks, follow, busy, error, conflict, submit, dismiss } = useImport(
    'upload.obs',
    'upload/obs'
  );
  const upload = (overwrite: boolean) =>
    submit({ obs_path: path.trim(), path: context.path, overwrite });
  return (
    <div className="ma-Upload ma-Upload-obs">
      <div className="ma-Upload-title">{trans.__('OBS file upload')}</div>
      <div className="ma-Upload-transitRow">
        <input
          className="jp-mod-styled ma-Upload-obsInput"
          value={path}
          placeholder={trans.__(
            'Enter the OBS file path, or select a path from OBS File Browser'
          )}
          onChange={e => {
            setPath(e.target.value);
            dismiss();
          }}
          onKeyDown={e => {
            if (e.key === 'Enter' && path.trim()) {
              void upload(false);
            }
          }}
        />
        <button
          className="jp-mod-styled jp-mod-accept ma-Upload-uploadObs"
          disabled={busy || !path.trim()}
          onClick={() => void upload(false)}
        >
          {trans.__('UPLOAD')}
        </button>
      </div>
      <div className="ma-Upload-hint">
        {trans.__(
          'Enter a file path, not a folder (at most 10 GB); names must not contain %1',
          BAD_CHARS
        )}
      </div>
      {props.renderObsBrowser ? (
        <ObsBrowserToggle
          trans={trans}
          render={props.renderObsBrowser}
          onPick={setPath}
        />
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
