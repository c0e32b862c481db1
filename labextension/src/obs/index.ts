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
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { folderIcon } from '@jupyterlab/ui-components';
import { CommandIDs } from '../tokens';
import { ObsBrowserWidget } from './ObsBrowserWidget';

export {
  ObsBrowser,
  IObsBrowserProps,
  IObsEntry,
  IObsStoreInfo,
  parentPath,
  storeLabel
} from './ObsBrowser';
export { ObsBrowserWidget } from './ObsBrowserWidget';

const PLUGIN_ID = 'ma-notebook:obs';

/** The OBS file browser: which store is in use, buckets and folders. */
export const obsPlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'An OBS file browser listing buckets and folders of the object store in use (embedded or an endpoint).',
  autoStart: true,
  optional: [ICommandPalette, ISettingRegistry, ILayoutRestorer, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    restorer: ILayoutRestorer | null,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load('ma_notebook');
    const tracker = new WidgetTracker<MainAreaWidget<ObsBrowserWidget>>({
      namespace: 'ma-notebook-obs'
    });
    let pageSize = 100;
    if (settingRegistry) {
      void settingRegistry.load(PLUGIN_ID).then(settings => {
        const apply = () => {
          pageSize = settings.get('pageSize').composite as number;
          tracker.forEach(w => (w.content.pageSize = pageSize));
        };
        apply();
        settings.changed.connect(apply);
      });
    }

    app.commands.addCommand(CommandIDs.openObs, {
      label: trans.__('Open OBS File Browser'),
      caption: trans.__('Browse the buckets and folders of the object store'),
      execute: () => {
        const existing = tracker.currentWidget;
        if (existing && !existing.isDisposed) {
          app.shell.activateById(existing.id);
          return existing;
        }
        const content = new ObsBrowserWidget(trans, { pageSize });
        const widget = new MainAreaWidget({ content });
        widget.id = 'ma-notebook-obs-browser';
        widget.title.label = trans.__('OBS');
        widget.title.icon = folderIcon;
        widget.title.closable = true;
        void tracker.add(widget);
        app.shell.add(widget, 'main');
        app.shell.activateById(widget.id);
        return widget;
      }
    });
    palette?.addItem({
      command: CommandIDs.openObs,
      category: trans.__('ma-notebook')
    });
    if (restorer) {
      void restorer.restore(tracker, {
        command: CommandIDs.openObs,
        name: () => 'obs'
      });
    }
  }
};
