import { LabIcon } from '@jupyterlab/ui-components';

const tensorboardSvg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16" height="16">
  <path fill="#FF6F00" d="M12 2 3 7v10l9 5 9-5V7l-9-5zm0 2.3 6.8 3.8L12 11.9 5.2 8.1 12 4.3z"/>
  <path fill="#FFA800" d="M5 9.6 11 13v7l-6-3.4V9.6z"/>
</svg>`;

const mindinsightSvg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16" height="16">
  <circle cx="12" cy="12" r="10" fill="#0a67d1"/>
  <path fill="#fff" d="M6 16V8h2l4 5 4-5h2v8h-2v-5l-4 5-4-5v5z"/>
</svg>`;

/** TensorBoard's launcher and tab icon. */
export const tensorboardIcon = new LabIcon({
  name: 'ma-notebook:tensorboard',
  svgstr: tensorboardSvg
});

/** MindInsight's launcher and tab icon. */
export const mindinsightIcon = new LabIcon({
  name: 'ma-notebook:mindinsight',
  svgstr: mindinsightSvg
});
