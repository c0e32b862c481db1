import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';
import { IObsEntry, ObsBrowser } from './ObsBrowser';

/** The OBS file browser as a Lumino widget (main area, dialogs, pickers). */
export class ObsBrowserWidget extends ReactWidget {
  constructor(
    private trans: TranslationBundle,
    private options: { pageSize?: number; initialPath?: string } = {}
  ) {
    super();
    this.addClass('ma-ObsBrowserWidget');
  }

  /** The entry the user selected last, if any. */
  get selected(): IObsEntry | null {
    return this._selected;
  }

  /** The folder shown. */
  get path(): string {
    return this._path;
  }

  /** Entries per page. */
  set pageSize(value: number) {
    this.options = { ...this.options, pageSize: value };
    this.update();
  }

  render(): JSX.Element {
    return (
      <ObsBrowser
        trans={this.trans}
        pageSize={this.options.pageSize}
        initialPath={this.options.initialPath}
        onSelect={entry => {
          this._selected = entry;
        }}
        onNavigate={path => {
          this._path = path;
        }}
      />
    );
  }

  private _selected: IObsEntry | null = null;
  private _path = 'obs://';
}
