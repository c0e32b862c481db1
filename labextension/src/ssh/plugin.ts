import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { terminalIcon } from '@jupyterlab/ui-components';
import { CommandIDs } from '../tokens';
import { SshPanel } from './SshPanel';

const PANEL_ID = 'ma-notebook-ssh';

/** The Remote SSH sidebar: sshd status, key pairs, whitelist and IDE configs. */
export const sshPlugin: JupyterFrontEndPlugin<void> = {
  id: 'ma-notebook:remote-ssh',
  description:
    'A Remote SSH panel: switch sshd on, manage key pairs and the whitelist, copy VS Code / PyCharm / PuTTY configuration.',
  autoStart: true,
  optional: [ILayoutRestorer, ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load('ma_notebook');
    const panel = new SshPanel(trans);
    panel.id = PANEL_ID;
    panel.title.icon = terminalIcon;
    panel.title.caption = trans.__('Remote SSH');
    app.shell.add(panel, 'right', { rank: 910 });
    restorer?.add(panel, PANEL_ID);

    app.commands.addCommand(CommandIDs.openRemoteSsh, {
      label: trans.__('Open Remote SSH'),
      caption: trans.__(
        'SSH from VS Code, PyCharm or PuTTY: keys, whitelist and configuration'
      ),
      execute: () => {
        app.shell.activateById(panel.id);
        panel.refresh();
      }
    });
    palette?.addItem({
      command: CommandIDs.openRemoteSsh,
      category: trans.__('ma-notebook')
    });
  }
};
