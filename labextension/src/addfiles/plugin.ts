import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { fileUploadIcon } from '@jupyterlab/ui-components';
import { CommandIDs, IAddFilesDialog } from '../tokens';
import { AddFilesDialog } from './AddFilesDialog';

/**
 * The "Add files to Notebook" dialog, opened from the file browser's upload
 * button (which this plugin's settings put in place of JupyterLab's uploader).
 */
export const addFilesPlugin: JupyterFrontEndPlugin<IAddFilesDialog> = {
  id: 'ma-notebook:add-files',
  description:
    'The "Add files to Notebook" dialog with a tab per source (Local, Git, OBS, Remote).',
  autoStart: true,
  provides: IAddFilesDialog,
  optional: [IDefaultFileBrowser, ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    browser: IDefaultFileBrowser | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load('ma_notebook');
    const dialog = new AddFilesDialog(trans, () => browser?.model.path ?? '');
    app.commands.addCommand(CommandIDs.addFiles, {
      label: args => (args.isToolbar ? '' : trans.__('Add Files to Notebook…')),
      caption: trans.__(
        'Upload files, clone a Git repository or import from OBS or a URL'
      ),
      icon: fileUploadIcon,
      execute: args =>
        dialog.open({
          path: (args.path as string | undefined) ?? undefined,
          tab: (args.tab as string | undefined) ?? undefined
        })
    });
    palette?.addItem({
      command: CommandIDs.addFiles,
      category: trans.__('ma-notebook')
    });
    return dialog;
  }
};
