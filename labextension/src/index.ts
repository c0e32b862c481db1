import { JupyterFrontEndPlugin } from '@jupyterlab/application';
import { corePlugin } from './core';
import { eventsPlugin } from './events';
import { obsPlugin } from './obs';

export * from './tokens';
export { requestAPI, MaRequestError, watchTask, cancelTask } from './request';
export * from './obs';

/** Every ma-notebook plugin; one per feature. */
const plugins: JupyterFrontEndPlugin<any>[] = [
  corePlugin,
  eventsPlugin,
  obsPlugin
];

export default plugins;
