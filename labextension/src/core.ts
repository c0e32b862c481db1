import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { MaRequestError, requestAPI } from './request';
import { IMaNotebook, IServerInfo } from './tokens';

// eslint-disable-next-line @typescript-eslint/no-var-requires
declare const require: (path: string) => any;
/** The frontend's version, from package.json (bundled at build time). */
export const FRONTEND_VERSION: string = require('../package.json').version;

/**
 * Check the server extension once at start-up and tell the user clearly
 * when it is missing or its version differs from this frontend's.
 */
export async function checkServer(
  info: Promise<IServerInfo>,
  translator: ITranslator
): Promise<void> {
  const trans = translator.load('ma_notebook');
  try {
    const server = await info;
    if (server.version !== FRONTEND_VERSION) {
      Notification.warning(
        trans.__(
          'ma-notebook: the server extension is version %1 but the frontend is %2. Reinstall ma-notebook in the environment that runs the server (pip install -U ma-notebook) and restart JupyterLab.',
          server.version,
          FRONTEND_VERSION
        ),
        { autoClose: false }
      );
    }
  } catch (error) {
    const status = error instanceof MaRequestError ? error.status : 0;
    const message =
      status === 404
        ? trans.__(
            'ma-notebook: the server extension is not installed or not enabled, so uploads, events and the other ma-notebook features cannot work. Run "jupyter server extension enable ma_notebook" in the environment of the server and restart JupyterLab.'
          )
        : trans.__(
            'ma-notebook: the server extension did not answer (%1).',
            (error as Error).message
          );
    Notification.error(message, { autoClose: false });
    console.error(message);
  }
}

/** The core plugin: server info for the other plugins and the start-up check. */
export const corePlugin: JupyterFrontEndPlugin<IMaNotebook> = {
  id: 'ma-notebook:core',
  description:
    'Checks the ma-notebook server extension and shares its capabilities with the other plugins.',
  autoStart: true,
  provides: IMaNotebook,
  optional: [ITranslator],
  activate: (app: JupyterFrontEnd, translator: ITranslator | null) => {
    const serverInfo = requestAPI<IServerInfo>('info');
    void checkServer(serverInfo, translator ?? nullTranslator);
    return { serverInfo, version: FRONTEND_VERSION };
  }
};
