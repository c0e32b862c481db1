import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { listIcon } from '@jupyterlab/ui-components';
import { EventsPanel, REFRESH_CHOICES } from './components/EventsPanel';
import { CommandIDs } from './tokens';

const PLUGIN_ID = 'ma-notebook:events';

/** The Events sidebar plugin (instance event log). */
export const eventsPlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'An Events panel listing the notebook instance events, newest first.',
  autoStart: true,
  optional: [ILayoutRestorer, ISettingRegistry, ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load('ma_notebook');
    let settings: ISettingRegistry.ISettings | null = null;
    const panel = new EventsPanel(trans, seconds => {
      void settings?.set('autoRefreshSeconds', seconds);
    });
    panel.id = 'ma-notebook-events';
    panel.title.icon = listIcon;
    panel.title.caption = trans.__('Events');
    app.shell.add(panel, 'right', { rank: 900 });
    restorer?.add(panel, 'ma-notebook-events');

    if (settingRegistry) {
      void settingRegistry.load(PLUGIN_ID).then(loaded => {
        settings = loaded;
        const apply = () => {
          const seconds = loaded.get('autoRefreshSeconds').composite as number;
          panel.interval = REFRESH_CHOICES.includes(seconds) ? seconds : 0;
        };
        apply();
        loaded.changed.connect(apply);
      });
    }

    app.commands.addCommand(CommandIDs.openEvents, {
      label: trans.__('Show Notebook Events'),
      execute: () => {
        app.shell.activateById(panel.id);
        panel.refresh();
      }
    });
    app.commands.addCommand(CommandIDs.refreshEvents, {
      label: trans.__('Refresh Notebook Events'),
      execute: () => panel.refresh()
    });
    palette?.addItem({
      command: CommandIDs.openEvents,
      category: trans.__('ma-notebook')
    });
  }
};
