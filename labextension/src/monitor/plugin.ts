import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { requestAPI } from '../request';
import { CommandIDs } from '../tokens';
import { ILease, INotice, MonitorModel } from './model';
import {
  CountdownWidget,
  ResourcePanel,
  ResourceStatus,
  openRenewDialog
} from './widgets';

const PLUGIN_ID = 'ma-notebook:monitor';

/** Resource Monitor panel, status bar item, auto-stop countdown and alarm notifications. */
export const monitorPlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Resource Monitor (CPU and memory of the last 60 s, flavor), a status bar item, the auto-stop countdown with renewal, and alarm notifications.',
  autoStart: true,
  optional: [
    IStatusBar,
    ILayoutRestorer,
    ISettingRegistry,
    ICommandPalette,
    ITranslator
  ],
  activate: (
    app: JupyterFrontEnd,
    statusBar: IStatusBar | null,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load('ma_notebook');
    const model = new MonitorModel(2);
    let limits = { min: 1, max: 72 };

    const panel = new ResourcePanel(model, trans);
    panel.id = 'ma-notebook-resource-monitor';
    panel.title.caption = trans.__('Resource Monitor');
    panel.title.label = trans.__('Resources');
    app.shell.add(panel, 'right', { rank: 910 });
    restorer?.add(panel, 'ma-notebook-resource-monitor');

    const countdown = new CountdownWidget(trans, () => {
      void app.commands.execute(CommandIDs.renewAutoStop);
    });
    countdown.id = 'ma-notebook-auto-stop';
    app.shell.add(countdown, 'top', { rank: 900 });

    const applyLease = (lease: ILease) => {
      limits = { min: lease.min_hours, max: lease.max_hours };
      countdown.deadline = lease.enabled ? lease.deadline : null;
    };
    const refreshLease = async () => {
      try {
        applyLease(await requestAPI<ILease>('lease'));
      } catch (error) {
        console.warn('ma-notebook: cannot read the auto-stop lease', error);
      }
    };
    void refreshLease();
    model.changed.connect(() => {
      const lease = model.snapshot?.lease;
      if (lease) {
        applyLease(lease);
      }
    });

    app.commands.addCommand(CommandIDs.renewAutoStop, {
      label: trans.__('Update Auto-Stop Time…'),
      execute: async () => {
        try {
          const deadline = await openRenewDialog(trans, limits);
          if (deadline !== null) {
            countdown.deadline = deadline;
            Notification.success(trans.__('Auto-stop time updated.'), {
              autoClose: 3000
            });
          }
        } catch (error) {
          Notification.error((error as Error).message, { autoClose: false });
        }
      }
    });
    app.commands.addCommand(CommandIDs.openResourceMonitor, {
      label: trans.__('Show Resource Monitor'),
      execute: () => {
        app.shell.activateById(panel.id);
      }
    });
    palette?.addItem({
      command: CommandIDs.renewAutoStop,
      category: trans.__('ma-notebook')
    });
    palette?.addItem({
      command: CommandIDs.openResourceMonitor,
      category: trans.__('ma-notebook')
    });

    if (statusBar) {
      const item = new ResourceStatus(model, trans, () => {
        app.shell.activateById(panel.id);
      });
      statusBar.registerStatusItem(PLUGIN_ID, {
        item,
        align: 'left',
        rank: 50
      });
    }

    model.noticed.connect((_, notice: INotice) => {
      if (notice.kind === 'lease') {
        Notification.warning(notice.message, {
          autoClose: false,
          actions: [
            {
              label: trans.__('Renew'),
              callback: () => {
                void app.commands.execute(CommandIDs.renewAutoStop);
              },
              displayType: 'accent'
            }
          ]
        });
        return;
      }
      const show =
        notice.kind === 'alarm-resolved'
          ? Notification.info
          : notice.severity === 'Critical'
            ? Notification.error
            : Notification.warning;
      show(notice.message, {
        autoClose: notice.kind === 'alarm-resolved' ? 8000 : false,
        data: { maNotice: notice.kind } as any
      });
    });

    if (settingRegistry) {
      void settingRegistry.load(PLUGIN_ID).then(settings => {
        const apply = () => {
          model.refreshSeconds = settings.get('refreshSeconds')
            .composite as number;
          const rules = settings.get('alarmRules').composite as any[];
          void requestAPI('monitor/alarms', {
            method: 'PUT',
            body: JSON.stringify({ rules: rules ?? [] })
          }).catch(error =>
            Notification.error(
              trans.__(
                'ma-notebook: your alarm rules were refused: %1',
                (error as Error).message
              ),
              { autoClose: false }
            )
          );
        };
        apply();
        settings.changed.connect(apply);
      });
    }
  }
};
