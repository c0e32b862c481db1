import { JupyterFrontEndPlugin } from '@jupyterlab/application';
import { addFilesPlugin } from './addfiles/plugin';
import { corePlugin } from './core';
import { eventsPlugin } from './events';
import { codeFormsPlugin } from './forms/plugin';
import { gitClonePlugin } from './git/plugin';
import { visualizationPlugin } from './visualization/plugin';
import { uploadPlugin } from './upload/plugin';
import { obsPlugin } from './obs';
import { schedulerPlugin } from './scheduler';
import { sshPlugin } from './ssh/plugin';
import { saveImagePlugin } from './images/plugin';
import { storagePlugin } from './storage/plugin';
import { monitorPlugin } from './monitor/plugin';

export * from './tokens';
export { requestAPI, MaRequestError, watchTask, cancelTask } from './request';
export * from './obs';

/** Every ma-notebook plugin; one per feature. */
const plugins: JupyterFrontEndPlugin<any>[] = [
  corePlugin,
  eventsPlugin,
  addFilesPlugin,
  gitClonePlugin,
  visualizationPlugin,
  obsPlugin,
  schedulerPlugin,
  uploadPlugin,
  sshPlugin,
  codeFormsPlugin,
  saveImagePlugin,
  storagePlugin,
  monitorPlugin
];

export default plugins;
