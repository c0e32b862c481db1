import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';
import { ObsBrowser } from '../obs';
import { CommandIDs, IAddFilesDialog, IMaNotebook } from '../tokens';
import {
  ITransitSettings,
  LocalTab,
  collectDrop,
  serverTransitPath
} from './LocalTab';
import { ObsTab } from './ObsTab';
import { RemoteTab } from './RemoteTab';
import { downloadViaObs } from './download';
import { TransitUploader } from './transit';
import { UploadStatus } from './UploadStatus';
import { IUploadLimits, UploadQueue } from './queue';

const PLUGIN_ID = 'ma-notebook:upload';
const DOWNLOAD_VIA_OBS = 'ma-notebook:download-via-obs';

/**
 * Uploads: the Local and Remote tabs of "Add files to Notebook", the upload
 * queue shared with drag-and-drop onto the file browser, and the status-bar count.
 */
export const uploadPlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Local uploads (queued, resumable, with speed) and URL imports in the Add files dialog; drag-and-drop and an "Uploading: n / m" status item.',
  autoStart: true,
  requires: [IAddFilesDialog, IMaNotebook],
  optional: [IDefaultFileBrowser, IStatusBar, ISettingRegistry, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    dialog: IAddFilesDialog,
    core: IMaNotebook,
    browser: IDefaultFileBrowser | null,
    statusBar: IStatusBar | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load('ma_notebook');
    const limits = core.serverInfo.then(
      info => info.capabilities.upload as unknown as IUploadLimits
    );
    const queue = new UploadQueue(limits);
    queue.transit = new TransitUploader(
      core.serverInfo.then(
        info =>
          info.capabilities.upload?.transit
            ? { ok: true }
            : {
                ok: false,
                reason:
                  (info.capabilities.obs?.reason as string) ?? 'OBS is off'
              },
        () => ({ ok: false, reason: 'no server' })
      )
    );

    let settings: ISettingRegistry.ISettings | null = null;
    if (settingRegistry) {
      void settingRegistry.load(PLUGIN_ID).then(
        s => (settings = s),
        e => console.warn('ma-notebook: upload settings could not load', e)
      );
    }
    const transitSettings: ITransitSettings = {
      get: () => (settings?.get('transitPath').composite as string) ?? '',
      set: async path => {
        await settings?.set('transitPath', path);
      },
      defaultPath: async () => {
        const info = await core.serverInfo;
        return (info.capabilities.upload?.transit_default as string) ?? '';
      }
    };

    // Pickers built on the OBS file browser (from the obs feature).
    const pickFolder = (onPick: (path: string) => void) => (
      <div className="ma-Upload-obsBrowser">
        <ObsBrowser
          trans={trans}
          onNavigate={path => onPick(path)}
          onSelect={entry => {
            if (entry?.type === 'directory') {
              onPick(entry.path);
            }
          }}
        />
      </div>
    );
    const pickFile = (onPick: (path: string) => void) => (
      <div className="ma-Upload-obsBrowser">
        <ObsBrowser
          trans={trans}
          onSelect={entry => {
            if (entry) {
              onPick(entry.path);
            }
          }}
        />
      </div>
    );

    dialog.addTab({
      id: 'local',
      label: trans.__('Local'),
      rank: 10,
      create: context =>
        ReactWidget.create(
          <LocalTab
            queue={queue}
            context={context}
            trans={trans}
            transitSettings={transitSettings}
            renderObsBrowser={pickFolder}
          />
        )
    });
    dialog.addTab({
      id: 'obs',
      label: trans.__('OBS'),
      rank: 30,
      create: context =>
        ReactWidget.create(
          <ObsTab context={context} trans={trans} renderObsBrowser={pickFile} />
        )
    });
    dialog.addTab({
      id: 'remote',
      label: trans.__('Remote'),
      rank: 40,
      create: context =>
        ReactWidget.create(<RemoteTab context={context} trans={trans} />)
    });

    const openLocal = () =>
      void app.commands.execute(CommandIDs.addFiles, { tab: 'local' });

    if (statusBar) {
      const item = new UploadStatus(queue, trans, openLocal);
      statusBar.registerStatusItem('ma-notebook:upload-status', {
        item,
        align: 'left',
        rank: 100,
        isActive: () => true
      });
    }

    // "Download via OBS" for files over the direct limit.
    let viaObsMin = 100 * 1000 * 1000;
    void limits.then(l => {
      viaObsMin = (l as any).download_via_obs_min_bytes ?? viaObsMin;
    });
    const selectedFile = () => {
      const items = browser ? Array.from(browser.selectedItems()) : [];
      return items.length === 1 && items[0].type !== 'directory'
        ? items[0]
        : null;
    };
    app.commands.addCommand(DOWNLOAD_VIA_OBS, {
      label: trans.__('Download via OBS'),
      caption: trans.__(
        'Copy the file to the OBS transit path and download it from an expiring link'
      ),
      isVisible: () => {
        const item = selectedFile();
        return !!item && (item.size ?? 0) > viaObsMin;
      },
      execute: async args => {
        const path = (args.path as string) ?? selectedFile()?.path;
        if (path) {
          await downloadViaObs(
            path,
            serverTransitPath(transitSettings.get()),
            trans
          );
        }
      }
    });
    app.contextMenu.addItem({
      command: DOWNLOAD_VIA_OBS,
      selector: '.jp-DirListing-item[data-isdir="false"]',
      rank: 9
    });

    // Files dropped onto the file browser go through the same queue.
    if (browser) {
      browser.node.addEventListener(
        'drop',
        (event: DragEvent) => {
          if (!event.dataTransfer || event.dataTransfer.files.length === 0) {
            return;
          }
          event.preventDefault();
          event.stopPropagation();
          browser.node
            .querySelectorAll('.jp-mod-dropTarget')
            .forEach(n => n.classList.remove('jp-mod-dropTarget'));
          const path = browser.model.path;
          const { files, folders } = collectDrop(event.dataTransfer);
          for (const folder of folders) {
            queue.addFolder(folder, path);
          }
          queue.add(files, path);
          openLocal();
        },
        true
      );
      browser.node.dataset.maDropQueue = 'on'; // what tests wait for before dropping
      // Refresh the listing as uploads land in the folder it shows.
      let finished = 0;
      queue.changed.connect(() => {
        const now = queue.counts.finished;
        if (now !== finished) {
          finished = now;
          void browser.model.refresh();
        }
      });
    }
  }
};
