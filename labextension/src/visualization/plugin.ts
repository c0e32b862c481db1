import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  InputDialog,
  MainAreaWidget,
  Notification,
  WidgetTracker,
  showDialog
} from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { IRunningSessionManagers, IRunningSessions } from '@jupyterlab/running';
import { ServerConnection } from '@jupyterlab/services';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import {
  ITranslator,
  TranslationBundle,
  nullTranslator
} from '@jupyterlab/translation';
import { IFrame, LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import { MaRequestError } from '../request';
import { CommandIDs, IMaNotebook } from '../tokens';
import { mindinsightIcon, tensorboardIcon } from './icons';
import {
  IVisualizationInstance,
  ToolName,
  VisualizationModel,
  formatUptime
} from './model';

const PLUGIN_ID = 'ma-notebook:visualization';

interface IToolSpec {
  name: ToolName;
  title: string;
  icon: LabIcon;
  open: string;
  openFolder: string;
  rank: number;
}

const TOOLS: IToolSpec[] = [
  {
    name: 'tensorboard',
    title: 'TensorBoard',
    icon: tensorboardIcon,
    open: CommandIDs.openTensorBoard,
    openFolder: CommandIDs.openFolderInTensorBoard,
    rank: 10
  },
  {
    name: 'mindinsight',
    title: 'MindInsight',
    icon: mindinsightIcon,
    open: CommandIDs.openMindInsight,
    openFolder: CommandIDs.openFolderInMindInsight,
    rank: 11
  }
];

/** The visualization tab: the tool's UI in an iframe of the proxied URL. */
class VisualizationTab extends MainAreaWidget<IFrame> {
  constructor(
    readonly instance: IVisualizationInstance,
    url: string,
    icon: LabIcon
  ) {
    const content = new IFrame({
      sandbox: [
        'allow-scripts',
        'allow-same-origin',
        'allow-forms',
        'allow-popups',
        'allow-downloads',
        'allow-modals'
      ],
      referrerPolicy: 'same-origin'
    });
    content.url = url;
    super({ content });
    this.id = tabId(instance.id);
    this.title.label = `${instance.title}: ${folderLabel(instance)}`;
    this.title.caption = `${instance.title} — ${instance.folder}`;
    this.title.icon = icon;
    this.title.closable = true;
    this.addClass('ma-VisualizationTab');
    content.node.querySelector('iframe')?.setAttribute('title', instance.title);
  }
}

function tabId(instanceId: string): string {
  return `ma-notebook-visualization-${instanceId}`;
}

function folderLabel(instance: IVisualizationInstance): string {
  return instance.path === null ? instance.folder : instance.path || '/';
}

/** A dialog showing a message and the tool's own output lines. */
function showOutput(
  title: string,
  message: string,
  lines: string[],
  trans: TranslationBundle
): Promise<unknown> {
  const body = new Widget();
  body.addClass('ma-VisualizationOutput');
  const text = document.createElement('p');
  text.textContent = message;
  body.node.appendChild(text);
  if (lines.length) {
    const pre = document.createElement('pre');
    pre.textContent = lines.join('\n');
    body.node.appendChild(pre);
  }
  return showDialog({
    title,
    body,
    buttons: [Dialog.okButton({ label: trans.__('Close') })]
  });
}

/** Launcher tiles, folder context menu, tabs and Running sections for TensorBoard / MindInsight. */
export const visualizationPlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Starts TensorBoard and MindInsight on a summary folder, opens them in a tab and lists them in the Running panel.',
  autoStart: true,
  requires: [IMaNotebook],
  optional: [
    ILayoutRestorer,
    ILauncher,
    IDefaultFileBrowser,
    IRunningSessionManagers,
    ISettingRegistry,
    ICommandPalette,
    ITranslator
  ],
  activate: async (
    app: JupyterFrontEnd,
    core: IMaNotebook,
    restorer: ILayoutRestorer | null,
    launcher: ILauncher | null,
    browser: IDefaultFileBrowser | null,
    running: IRunningSessionManagers | null,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load('ma_notebook');
    try {
      const info = await core.serverInfo;
      if (!info.capabilities.visualization?.available) {
        return;
      }
    } catch {
      return; // the core plugin already told the user the server extension is missing
    }
    const model = new VisualizationModel();
    const tracker = new WidgetTracker<VisualizationTab>({
      namespace: 'ma-notebook-visualization'
    });
    let askForFolder = true;
    const baseUrl = ServerConnection.makeSettings().baseUrl;
    const specOf = (tool: ToolName) => TOOLS.find(t => t.name === tool)!;

    const openTab = (instance: IVisualizationInstance) => {
      const existing = tracker.find(w => w.instance.id === instance.id);
      if (existing) {
        app.shell.activateById(existing.id);
        return existing;
      }
      let url = URLExt.join(baseUrl, instance.url);
      if (!url.endsWith('/')) {
        url += '/';
      }
      const tab = new VisualizationTab(
        instance,
        url,
        specOf(instance.tool).icon
      );
      void tracker.add(tab);
      app.shell.add(tab, 'main');
      app.shell.activateById(tab.id);
      return tab;
    };

    const closeTabsOf = (id: string) => {
      tracker.forEach(tab => {
        if (tab.instance.id === id) {
          tab.dispose();
        }
      });
    };

    model.changed.connect(() => {
      const live = new Set(model.instances.map(i => i.id));
      tracker.forEach(tab => {
        if (!live.has(tab.instance.id)) {
          tab.dispose();
        }
      });
    });

    const start = async (spec: IToolSpec, folder: string) => {
      const starting = model.start(spec.name, folder);
      Notification.promise(
        starting.then(i => i.id),
        {
          pending: {
            message: trans.__('Starting %1 on %2…', spec.title, folder || '/'),
            options: { autoClose: false }
          },
          success: {
            message: () => trans.__('%1 is ready.', spec.title),
            options: { autoClose: 3000 }
          },
          error: {
            message: () => trans.__('%1 did not start.', spec.title),
            options: { autoClose: 5000 }
          }
        }
      );
      try {
        return openTab(await starting);
      } catch (error) {
        const message = (error as Error).message;
        const [first, ...rest] = message.split('\n');
        await showOutput(
          trans.__('Cannot start %1', spec.title),
          first,
          rest,
          trans
        );
        return null;
      }
    };

    const currentFolder = (args: Record<string, any>): string => {
      if (typeof args.cwd === 'string') {
        return args.cwd;
      }
      return browser?.model.path ?? '';
    };

    for (const spec of TOOLS) {
      app.commands.addCommand(spec.open, {
        label: args =>
          args.isLauncher || args.isPalette
            ? spec.title
            : trans.__('Open %1', spec.title),
        caption: trans.__(
          'Start %1 on a summary folder and open it in a tab',
          spec.title
        ),
        icon: args => (args.isPalette ? undefined : spec.icon),
        execute: async args => {
          if (typeof args.folder === 'string') {
            return start(spec, args.folder);
          }
          // Say that the tool is missing before asking for a folder it could not open.
          const info = await model
            .tools()
            .then(tools => tools[spec.name])
            .catch(() => undefined);
          if (info && !info.available) {
            const [first, ...rest] = (info.reason ?? '').split('\n');
            await showOutput(
              trans.__('%1 is not installed', spec.title),
              first,
              rest,
              trans
            );
            return null;
          }
          let folder = '';
          try {
            const suggestion = await model.suggest(
              spec.name,
              currentFolder(args)
            );
            folder = suggestion.path;
          } catch (error) {
            console.warn('ma-notebook: no folder suggestion', error);
          }
          if (askForFolder && args.ask !== false) {
            const result = await InputDialog.getText({
              title: trans.__('Open %1', spec.title),
              label: trans.__(
                'Summary folder (relative to the file browser root, or absolute):'
              ),
              text: folder,
              okLabel: trans.__('Open')
            });
            if (!result.button.accept) {
              return null;
            }
            folder = (result.value ?? '').trim();
          }
          return start(spec, folder);
        }
      });

      app.commands.addCommand(spec.openFolder, {
        label: trans.__('Open in %1', spec.title),
        caption: trans.__('Start %1 on this folder', spec.title),
        icon: spec.icon,
        isVisible: () => {
          const item = browser?.selectedItems().next();
          return !!item && !item.done && item.value.type === 'directory';
        },
        execute: () => {
          const item = browser?.selectedItems().next();
          if (!item || item.done) {
            return null;
          }
          return start(spec, item.value.path);
        }
      });

      app.contextMenu.addItem({
        command: spec.openFolder,
        selector: '.jp-DirListing-item[data-isdir="true"]',
        rank: 60 + spec.rank / 100
      });
      launcher?.add({
        command: spec.open,
        category: trans.__('Other'),
        rank: spec.rank,
        args: { isLauncher: true }
      });
      palette?.addItem({
        command: spec.open,
        category: trans.__('ma-notebook'),
        args: { isPalette: true }
      });

      if (running) {
        let fetched = Date.now();
        model.changed.connect(() => {
          fetched = Date.now();
        });
        const item = (
          instance: IVisualizationInstance
        ): IRunningSessions.IRunningItem => {
          const exited = instance.state === 'exited';
          return {
            className: exited
              ? 'ma-VisualizationItem ma-mod-exited'
              : 'ma-VisualizationItem',
            context: instance.id,
            icon: () => spec.icon,
            label: () => folderLabel(instance),
            labelTitle: () =>
              exited
                ? trans.__(
                    '%1 on %2 exited (code %3). Click to see its last output.',
                    spec.title,
                    instance.folder,
                    String(instance.exit_code)
                  )
                : trans.__(
                    '%1 on %2 (pid %3)',
                    spec.title,
                    instance.folder,
                    String(instance.pid)
                  ),
            detail: () =>
              exited
                ? trans.__('exited')
                : formatUptime(instance.uptime + (Date.now() - fetched) / 1000),
            open: () => {
              if (exited) {
                void showOutput(
                  trans.__('%1 exited', spec.title),
                  instance.message,
                  instance.log_tail ?? [],
                  trans
                );
              } else {
                openTab(instance);
              }
            },
            shutdown: () => {
              closeTabsOf(instance.id);
              void model.shutdown(instance.id).catch(error => {
                if (!(
                  error instanceof MaRequestError && error.status === 404
                )) {
                  Notification.error((error as Error).message);
                }
              });
            }
          };
        };
        running.add({
          name: spec.title,
          running: () => model.of(spec.name).map(item),
          shutdownAll: () => {
            model.of(spec.name).forEach(i => closeTabsOf(i.id));
            void model
              .shutdownAll(spec.name)
              .catch(error => Notification.error((error as Error).message));
          },
          refreshRunning: () => void model.refresh().catch(() => undefined),
          runningChanged: model.changed,
          shutdownLabel: trans.__('Shut Down'),
          shutdownAllLabel: trans.__('Shut Down All'),
          shutdownAllConfirmationText: trans.__(
            'Shut down every %1 instance?',
            spec.title
          )
        });
      }
    }

    app.commands.addCommand(CommandIDs.openVisualization, {
      label: trans.__('Open a Running TensorBoard or MindInsight'),
      execute: async args => {
        const id = String(args.id ?? '');
        await model.refresh().catch(() => undefined);
        const instance = model.instances.find(i => i.id === id);
        return instance && instance.state === 'running'
          ? openTab(instance)
          : null;
      }
    });
    void restorer?.restore(tracker, {
      command: CommandIDs.openVisualization,
      args: tab => ({ id: tab.instance.id }),
      name: tab => tab.instance.id
    });

    let refreshSeconds = 10;
    model.interval = refreshSeconds;
    if (settingRegistry) {
      void settingRegistry.load(PLUGIN_ID).then(settings => {
        const apply = () => {
          askForFolder = settings.get('askForFolder').composite as boolean;
          refreshSeconds = settings.get('refreshSeconds').composite as number;
          model.interval = refreshSeconds;
        };
        apply();
        settings.changed.connect(apply);
      });
    }
    await model.refresh().catch(() => undefined);
  }
};
