import { JupyterFrontEnd } from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { formParameters } from './parser';

/** jupyter-scheduler's commands that open its Create Job form on a notebook. */
const CREATE_JOB_COMMANDS = [
  'scheduling:create-from-filebrowser',
  'scheduling:create-from-notebook'
];

/** The id jupyter-scheduler gives its Jobs panel (a MainAreaWidget). */
const JOBS_PANEL_ID = 'notebook-jobs-panel';

/** The part of jupyter-scheduler's JobsModel we read and write. */
interface IJobsModelLike {
  createJobModel: {
    inputFile?: string;
    parameters?: { name: string; value: string }[];
    [key: string]: unknown;
  };
}

/** The form fields of every code cell, first definition of a name wins. */
export function notebookFormParameters(
  sources: string[]
): { name: string; value: string }[] {
  const seen = new Set<string>();
  const result: { name: string; value: string }[] = [];
  for (const source of sources) {
    for (const param of formParameters(source)) {
      if (!seen.has(param.name)) {
        seen.add(param.name);
        result.push(param);
      }
    }
  }
  return result;
}

/**
 * When jupyter-scheduler opens its Create Job form on a notebook with forms, add the form
 * variables as suggested parameters (with the code's values; the user edits or removes them).
 *
 * jupyter-scheduler has no hook for this: we watch its create commands run, then fill the
 * parameters of the form's model, which its panel renders from.
 */
export function suggestFormParameters(
  app: JupyterFrontEnd,
  tracker: INotebookTracker
): void {
  const codeSources = async (path: string): Promise<string[]> => {
    const open = tracker.find(panel => panel.context.path === path);
    if (open?.model) {
      return open.model.sharedModel.cells
        .filter(cell => cell.cell_type === 'code')
        .map(cell => cell.getSource());
    }
    const file = await app.serviceManager.contents.get(path, { content: true });
    const cells: { cell_type: string; source: string | string[] }[] =
      file.content?.cells ?? [];
    return cells
      .filter(cell => cell.cell_type === 'code')
      .map(cell =>
        Array.isArray(cell.source) ? cell.source.join('') : cell.source
      );
  };

  const prefill = async () => {
    let panel: any = null;
    for (const widget of app.shell.widgets('main')) {
      if (widget.id === JOBS_PANEL_ID) {
        panel = widget;
      }
    }
    const model: IJobsModelLike | undefined = panel?.content?.model;
    const inputFile = model?.createJobModel?.inputFile;
    if (!model || !inputFile || !inputFile.endsWith('.ipynb')) {
      return;
    }
    const suggested = notebookFormParameters(await codeSources(inputFile));
    const current = model.createJobModel;
    if (!suggested.length || current.inputFile !== inputFile) {
      return;
    }
    const existing = current.parameters ?? [];
    const names = new Set(existing.map(p => p.name));
    model.createJobModel = {
      ...current,
      parameters: [...existing, ...suggested.filter(p => !names.has(p.name))]
    };
  };

  app.commands.commandExecuted.connect((_sender, args) => {
    if (!CREATE_JOB_COMMANDS.includes(args.id)) {
      return;
    }
    void Promise.resolve(args.result)
      .then(prefill)
      .catch(error =>
        console.warn('ma-notebook: could not suggest form parameters', error)
      );
  });
}
