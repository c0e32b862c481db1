import { JupyterFrontEndPlugin } from '@jupyterlab/application';
import { addFilesPlugin } from './addfiles/plugin';
import { corePlugin } from './core';
import { eventsPlugin } from './events';

export * from './tokens';
export { requestAPI, MaRequestError, watchTask, cancelTask } from './request';

/** Every ma-notebook plugin; one per feature. */
const plugins: JupyterFrontEndPlugin<any>[] = [
  corePlugin,
  eventsPlugin,
  addFilesPlugin
];

export default plugins;
