import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { IAddFilesDialog, IMaNotebook } from '../tokens';
import { GitCloneTab } from './GitCloneTab';

/**
 * The "Git" tab of the "Add files to Notebook" dialog: clone a repository
 * (a branch, everything or only ticked files/folders) into the current folder.
 */
export const gitClonePlugin: JupyterFrontEndPlugin<void> = {
  id: 'ma-notebook:git-clone',
  description:
    'Git tab of the Add files dialog: branch choice, files preview, sparse clone with progress, private repositories.',
  autoStart: true,
  requires: [IAddFilesDialog],
  optional: [IMaNotebook, IDefaultFileBrowser, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    dialog: IAddFilesDialog,
    core: IMaNotebook | null,
    browser: IDefaultFileBrowser | null,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load('ma_notebook');
    const unavailable = core
      ? core.serverInfo.then(info => {
          const git = info.capabilities.git;
          if (!git) {
            return trans.__('Git cloning is not enabled on this server.');
          }
          return git.available
            ? null
            : (git.reason ?? trans.__('Git is not available.'));
        })
      : Promise.resolve(null);
    dialog.addTab({
      id: 'git',
      label: trans.__('Git'),
      rank: 20,
      create: context =>
        new GitCloneTab({
          trans,
          context,
          unavailable: unavailable.catch(() => null),
          onCloned: path => {
            void browser?.model.refresh();
            Notification.success(trans.__('Cloned into /%1', path), {
              autoClose: 5000
            });
            context.close();
          }
        })
    });
  }
};
