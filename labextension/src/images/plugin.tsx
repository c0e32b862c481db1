import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  Notification,
  ReactWidget,
  showDialog
} from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import * as React from 'react';
import { formatBytes, MaRequestError, requestAPI, watchTask } from '../request';
import { CommandIDs, IMaNotebook, ITask } from '../tokens';

const PLUGIN_ID = 'ma-notebook:save-image';
const TASK_KIND = 'images.save';

/** What GET images/save answers. */
interface ISaveCheck {
  available: boolean;
  reason: string;
  registry: string;
  backend: string;
  running_kernels: number;
  d_state: { pid: number; command: string }[];
  max_size_gb: number;
  max_layers: number;
}

/** The dialog's fields. */
interface ISaveForm {
  organization: string;
  name: string;
  tag: string;
  description: string;
}

/** The Save Image form: registry path (organization / name), tag, description. */
class SaveImageBody
  extends ReactWidget
  implements Dialog.IBodyWidget<ISaveForm>
{
  constructor(
    private check: ISaveCheck,
    private form: ISaveForm,
    private trans: TranslationBundle
  ) {
    super();
    this.addClass('ma-SaveImage');
  }

  getValue(): ISaveForm {
    return { ...this.form };
  }

  render(): JSX.Element {
    const { check, trans } = this;
    const field = (key: keyof ISaveForm, label: string, placeholder = '') => (
      <label className="ma-SaveImage-field">
        <span>{label}</span>
        <input
          className="jp-mod-styled"
          name={key}
          defaultValue={this.form[key]}
          placeholder={placeholder}
          onChange={e => {
            this.form[key] = e.target.value;
          }}
        />
      </label>
    );
    return (
      <div>
        <p className="ma-SaveImage-registry">
          {trans.__('Registry: %1', check.registry || trans.__('(none)'))}
        </p>
        {field('organization', trans.__('Organization'), 'my-team')}
        {field('name', trans.__('Image name'), 'my-notebook-env')}
        {field('tag', trans.__('Tag'), 'latest')}
        {field('description', trans.__('Description'))}
        <p className="ma-SaveImage-note">
          {trans.__(
            'Everything outside /home/ma-user/work and the runtime mounts is saved. Limits: %1 GB, %2 layers.',
            check.max_size_gb,
            check.max_layers
          )}
        </p>
        {check.running_kernels > 0 && (
          <p className="ma-SaveImage-warning">
            {trans.__(
              '%1 kernel(s) are running: their memory is not saved, only their files.',
              check.running_kernels
            )}
          </p>
        )}
        {check.d_state.length > 0 && (
          <p className="ma-SaveImage-error">
            {trans.__(
              'Processes in D state block saving: %1',
              check.d_state.map(p => `${p.pid} (${p.command})`).join(', ')
            )}
          </p>
        )}
        {!check.available && (
          <p className="ma-SaveImage-error">
            {trans.__('Save Image cannot work here: %1', check.reason)}
          </p>
        )}
      </div>
    );
  }
}

/** The notification line for a save task's state. */
function describe(task: ITask, trans: TranslationBundle): string {
  const image = task.meta.image ?? '';
  switch (task.state) {
    case 'succeeded':
      return trans.__('Done: saved %1', task.result?.image ?? image);
    case 'failed':
      return trans.__('Failed: %1', task.error ?? '');
    case 'cancelled':
      return trans.__('Save Image cancelled.');
  }
  if (task.phase === 'pushing') {
    return trans.__(
      'Pushing %1: %2 of %3',
      image,
      formatBytes(task.meta.bytes_pushed ?? 0),
      formatBytes(task.total ?? 0)
    );
  }
  if (task.phase === 'snapshotting') {
    return trans.__(
      'Snapshotting %1: %2 files walked, %3 written',
      image,
      task.meta.files_walked ?? 0,
      formatBytes(task.meta.bytes_written ?? 0)
    );
  }
  return trans.__('Saving %1…', image);
}

/** Show a save task's progress in one notification until it ends. */
async function follow(task: ITask, trans: TranslationBundle): Promise<void> {
  const id = Notification.emit(describe(task, trans), 'in-progress', {
    autoClose: false,
    actions: [
      {
        label: trans.__('Cancel'),
        callback: () => {
          void requestAPI(`tasks/${task.id}`, { method: 'DELETE' });
        }
      }
    ]
  });
  const last = await watchTask(task.id, t => {
    Notification.update({
      id,
      message: describe(t, trans),
      type: 'in-progress'
    });
  });
  Notification.update({
    id,
    message: describe(last, trans),
    type:
      last.state === 'succeeded'
        ? 'success'
        : last.state === 'failed'
          ? 'error'
          : 'info',
    autoClose: last.state === 'succeeded' ? 10000 : false,
    actions: []
  });
}

/**
 * Save Image: the running environment as a new image in the registry (File menu and palette),
 * with its progress in a notification that comes back after a reload.
 */
export const saveImagePlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Saves the running notebook environment as a container image (File > Save Image).',
  autoStart: true,
  requires: [IMaNotebook],
  optional: [ICommandPalette, ISettingRegistry, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    core: IMaNotebook,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load('ma_notebook');
    let settings: ISettingRegistry.ISettings | null = null;
    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(s => {
          settings = s;
        })
        .catch(() => undefined);
    }

    app.commands.addCommand(CommandIDs.saveImage, {
      label: trans.__('Save Image…'),
      caption: trans.__('Save the running environment as a container image'),
      execute: async () => {
        let check: ISaveCheck;
        try {
          check = await requestAPI<ISaveCheck>('images/save');
        } catch (error) {
          Notification.error((error as Error).message);
          return;
        }
        const form: ISaveForm = {
          organization:
            (settings?.get('organization').composite as string) ?? '',
          name: '',
          tag: 'latest',
          description: ''
        };
        for (;;) {
          const result = await showDialog({
            title: trans.__('Save Image'),
            body: new SaveImageBody(check, form, trans),
            buttons: [
              Dialog.cancelButton({ label: trans.__('Cancel') }),
              Dialog.okButton({ label: trans.__('Save') })
            ]
          });
          if (!result.button.accept || !result.value) {
            return;
          }
          Object.assign(form, result.value);
          try {
            const task = await requestAPI<ITask>('images/save', {
              method: 'POST',
              body: JSON.stringify(form)
            });
            void settings?.set('organization', form.organization);
            void follow(task, trans);
            return;
          } catch (error) {
            const message =
              error instanceof MaRequestError ? error.message : String(error);
            Notification.error(message, { autoClose: 10000 });
            if (!(error instanceof MaRequestError) || error.status !== 400) {
              return;
            }
          }
        }
      }
    });
    palette?.addItem({
      command: CommandIDs.saveImage,
      category: 'ma-notebook'
    });

    // A save still running after a reload gets its notification back.
    void core.serverInfo
      .then(() => requestAPI<{ tasks: ITask[] }>(`tasks?kind=${TASK_KIND}`))
      .then(({ tasks }) => {
        for (const task of tasks) {
          if (task.state === 'running' || task.state === 'queued') {
            void follow(task, trans);
          }
        }
      })
      .catch(() => undefined);
  }
};
