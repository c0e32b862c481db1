import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  MainAreaWidget,
  WidgetTracker
} from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { LabIcon } from '@jupyterlab/ui-components';
import { CommandIDs } from '../tokens';
import { StoragePanel, mountStorageDialog } from './StoragePanel';

const PLUGIN_ID = 'ma-notebook:storage';

const storageIcon = new LabIcon({
  name: 'ma-notebook:storage',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161"><path d="M4 4h16a1 1 0 0 1 1 1v4a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1zm1 2v2h2V6H5zM4 14h16a1 1 0 0 1 1 1v4a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1v-4a1 1 0 0 1 1-1zm1 2v2h2v-2H5z"/></g></svg>'
});

/** The Storage panel: dynamic OBS mounts at /data/<name>/ and the workspace disk. */
export const storagePlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'A Storage panel: mount OBS folders at /data/<name>/, list and unmount them, and grow the workspace disk online.',
  autoStart: true,
  optional: [ILayoutRestorer, ICommandPalette, ILauncher, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    launcher: ILauncher | null,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load('ma_notebook');
    const tracker = new WidgetTracker<MainAreaWidget<StoragePanel>>({
      namespace: 'ma-notebook-storage'
    });
    const open = (): MainAreaWidget<StoragePanel> => {
      const existing = tracker.currentWidget;
      if (existing && !existing.isDisposed) {
        app.shell.activateById(existing.id);
        existing.content.refresh();
        return existing;
      }
      const widget = new MainAreaWidget({ content: new StoragePanel(trans) });
      widget.id = 'ma-notebook-storage';
      widget.title.label = trans.__('Storage');
      widget.title.icon = storageIcon;
      widget.title.closable = true;
      void tracker.add(widget);
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
      return widget;
    };

    app.commands.addCommand(CommandIDs.openStorage, {
      label: trans.__('Storage'),
      caption: trans.__(
        'Mount OBS folders at /data/<name>/ and grow the workspace disk'
      ),
      icon: storageIcon,
      execute: () => {
        open();
      }
    });
    app.commands.addCommand(CommandIDs.mountStorage, {
      label: trans.__('Mount Storage…'),
      execute: async () => {
        const m = await mountStorageDialog(trans);
        open();
        return m;
      }
    });
    for (const command of [CommandIDs.openStorage, CommandIDs.mountStorage]) {
      palette?.addItem({ command, category: trans.__('ma-notebook') });
    }
    launcher?.add({
      command: CommandIDs.openStorage,
      category: trans.__('Other'),
      rank: 30
    });
    if (restorer) {
      void restorer.restore(tracker, {
        command: CommandIDs.openStorage,
        name: () => 'storage'
      });
    }
  }
};
