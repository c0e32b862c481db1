import { Notification } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import { requestAPI, watchTask } from '../request';
import { ITask } from '../tokens';

/** Start the browser's download of a (presigned) URL. */
function startDownload(url: string, name: string): void {
  const settings = ServerConnection.makeSettings();
  const href = /^https?:/.test(url)
    ? url
    : URLExt.join(new URL(settings.baseUrl).origin, url);
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
}

/**
 * "Download via OBS": the server copies the file to the transit path (a task),
 * then the browser downloads it from an expiring presigned link.
 */
export async function downloadViaObs(
  path: string,
  transitPath: string,
  trans: TranslationBundle
): Promise<ITask> {
  const name = path.split('/').pop() ?? path;
  const id = Notification.emit(
    trans.__('Copying %1 to OBS for download…', name),
    'in-progress',
    { autoClose: false }
  );
  try {
    const task = await requestAPI<ITask>('upload/download', {
      method: 'POST',
      body: JSON.stringify({ path, transit_path: transitPath })
    });
    const final = await watchTask(task.id, t => {
      if (t.state === 'running' && t.total) {
        Notification.update({
          id,
          message: trans.__(
            'Copying %1 to OBS for download: %2%',
            name,
            Math.floor(t.percent ?? 0)
          )
        });
      }
    });
    if (final.state !== 'succeeded') {
      throw new Error(
        final.error ?? trans.__('The copy to OBS was cancelled.')
      );
    }
    const url: string = final.result.url;
    Notification.update({
      id,
      type: 'success',
      message: trans.__(
        '%1 is ready; the download link expires at %2.',
        name,
        new Date(final.result.expires * 1000).toLocaleTimeString()
      ),
      autoClose: 10000,
      actions: [
        {
          label: trans.__('Download again'),
          callback: () => startDownload(url, name)
        }
      ]
    });
    startDownload(url, name);
    return final;
  } catch (error) {
    Notification.update({
      id,
      type: 'error',
      message: trans.__(
        'Download via OBS failed: %1',
        (error as Error).message
      ),
      autoClose: false
    });
    throw error;
  }
}
