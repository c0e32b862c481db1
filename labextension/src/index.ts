import { JupyterFrontEndPlugin } from '@jupyterlab/application';
import { corePlugin } from './core';
import { eventsPlugin } from './events';
import { schedulerPlugin } from './scheduler';

export * from './tokens';
export { requestAPI, MaRequestError, watchTask, cancelTask } from './request';

/** Every ma-notebook plugin; one per feature. */
const plugins: JupyterFrontEndPlugin<any>[] = [
  corePlugin,
  eventsPlugin,
  schedulerPlugin
];

export default plugins;
