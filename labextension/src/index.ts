import { JupyterFrontEndPlugin } from '@jupyterlab/application';
import { addFilesPlugin } from './addfiles/plugin';
import { corePlugin } from './core';
import { eventsPlugin } from './events';
import { uploadPlugin } from './upload/plugin';
import { obsPlugin } from './obs';

export * from './tokens';
export { requestAPI, MaRequestError, watchTask, cancelTask } from './request';
export * from './obs';

/** Every ma-notebook plugin; one per feature. */
const plugins: JupyterFrontEndPlugin<any>[] = [
  corePlugin,
  eventsPlugin,
  addFilesPlugin,
  uploadPlugin,
  obsPlugin
];

export default plugins;
