import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  InputDialog,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { MaRequestError, requestAPI } from '../request';
import { CommandIDs, IEvent, IMaNotebook } from '../tokens';

const PLUGIN_ID = 'ma-notebook:scheduler';

/** jupyter-scheduler's command that opens the Notebook Jobs list. */
const LIST_JOBS_COMMAND = 'scheduling:list-jobs-from-launcher';

/** What GET scheduler/cron answers. */
interface ICronCheck {
  expression: string;
  normalized: string;
  croniter: string;
  next_runs: string[];
}

/**
 * Scheduled notebook jobs: a notification for every failed run (watching the
 * `ScheduledJobFailed` events), and a cron check showing the normalised form.
 */
export const schedulerPlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Notifies failed notebook job runs and checks cron schedules (normalised form, next runs).',
  autoStart: true,
  requires: [IMaNotebook],
  optional: [ISettingRegistry, ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    core: IMaNotebook,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load('ma_notebook');
    const seen = new Set<number>();
    let since = Date.now() / 1000;
    let pollSeconds = 10;
    let timer: number | null = null;

    const notify = (event: IEvent) => {
      const actions = app.commands.hasCommand(LIST_JOBS_COMMAND)
        ? [
            {
              label: trans.__('Show Notebook Jobs'),
              callback: () => {
                void app.commands.execute(LIST_JOBS_COMMAND);
              }
            }
          ]
        : [];
      Notification.error(event.message, { autoClose: false, actions });
    };

    const poll = async () => {
      try {
        const data = await requestAPI<{ events: IEvent[] }>(
          `events?type=ScheduledJobFailed&since=${since}`
        );
        const fresh = data.events
          .filter(e => !seen.has(e.id))
          .sort((a, b) => a.id - b.id);
        for (const event of fresh) {
          seen.add(event.id);
          since = Math.max(since, event.time - 1);
          notify(event);
        }
      } catch (error) {
        console.warn('ma-notebook: polling job failures failed', error);
      }
    };

    const schedule = () => {
      if (timer !== null) {
        window.clearInterval(timer);
        timer = null;
      }
      if (pollSeconds > 0) {
        timer = window.setInterval(() => void poll(), pollSeconds * 1000);
      }
    };

    void core.serverInfo.then(info => {
      if (!info.capabilities.scheduler?.available) {
        return;
      }
      schedule();
      if (settingRegistry) {
        void settingRegistry.load(PLUGIN_ID).then(settings => {
          const apply = () => {
            pollSeconds = settings.get('failurePollSeconds')
              .composite as number;
            schedule();
          };
          apply();
          settings.changed.connect(apply);
        });
      }
    });

    app.commands.addCommand(CommandIDs.checkCron, {
      label: trans.__('Check a Cron Schedule…'),
      execute: async args => {
        let expression = args['expression'] as string | undefined;
        if (!expression) {
          const answer = await InputDialog.getText({
            title: trans.__('Check a cron schedule'),
            label: trans.__(
              '5 fields, 6 with seconds first, or Quartz (e.g. 0/2 * * * * ?)'
            ),
            text: '0/2 * * * * ?'
          });
          if (!answer.button.accept || !answer.value) {
            return;
          }
          expression = answer.value;
        }
        let body: string;
        try {
          const check = await requestAPI<ICronCheck>(
            `scheduler/cron?expression=${encodeURIComponent(expression)}&count=3`
          );
          body = [
            trans.__('Normalised: %1', check.normalized),
            trans.__('Next runs (UTC): %1', check.next_runs.join(', '))
          ].join('\n');
        } catch (error) {
          body =
            error instanceof MaRequestError
              ? error.message
              : String((error as Error).message);
        }
        await showDialog({
          title: trans.__('Cron schedule %1', expression),
          body,
          buttons: [Dialog.okButton()]
        });
      }
    });
    palette?.addItem({
      command: CommandIDs.checkCron,
      category: trans.__('ma-notebook')
    });
  }
};
