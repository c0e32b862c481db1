import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ReactWidget } from '@jupyterlab/apputils';
import { Cell, CodeCell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import {
  ITranslator,
  TranslationBundle,
  nullTranslator
} from '@jupyterlab/translation';
import { Menu, Panel } from '@lumino/widgets';
import * as React from 'react';
import { CommandIDs } from '../tokens';
import { askNewField } from './AddFieldDialog';
import { CodeForm } from './CodeForm';
import {
  IFormField,
  IParsedForm,
  addField,
  addTitle,
  parseForm,
  removeField,
  setFieldValue,
  setTitle
} from './parser';
import { suggestFormParameters } from './scheduler';

const PLUGIN_ID = 'ma-notebook:code-forms';

/** Colab's cell metadata for "show the form only". */
const CELL_VIEW_KEY = 'cellView';
/** Our cell metadata: `{"hide_form": true}` hides the form, the code stays. */
const META_KEY = 'ma_notebook';

/** What a cell shows: both, the form only (code hidden) or the code only (form hidden). */
export type FormView = 'both' | 'form' | 'code';

/** The hide state kept in a cell's metadata. */
export function readView(cell: Cell): FormView {
  const meta = cell.model.getMetadata(META_KEY) as
    { hide_form?: boolean } | undefined;
  if (meta?.hide_form) {
    return 'code';
  }
  return cell.model.getMetadata(CELL_VIEW_KEY) === 'form' ? 'form' : 'both';
}

function writeView(cell: Cell, view: FormView): void {
  const meta = {
    ...((cell.model.getMetadata(META_KEY) as object | undefined) ?? {})
  } as Record<string, unknown>;
  delete meta.hide_form;
  if (view === 'code') {
    meta.hide_form = true;
  }
  if (Object.keys(meta).length) {
    cell.model.setMetadata(META_KEY, meta);
  } else {
    cell.model.deleteMetadata(META_KEY);
  }
  if (view === 'form') {
    cell.model.setMetadata(CELL_VIEW_KEY, 'form');
  } else if (cell.model.getMetadata(CELL_VIEW_KEY) !== undefined) {
    cell.model.deleteMetadata(CELL_VIEW_KEY);
  }
}

/** Replace a cell's source with the smallest edit, so the cursor and collaborators keep their place. */
function applySource(cell: Cell, next: string): void {
  const shared = cell.model.sharedModel;
  const old = shared.getSource();
  if (old === next) {
    return;
  }
  let start = 0;
  while (
    start < old.length &&
    start < next.length &&
    old[start] === next[start]
  ) {
    start++;
  }
  let endOld = old.length;
  let endNew = next.length;
  while (
    endOld > start &&
    endNew > start &&
    old[endOld - 1] === next[endNew - 1]
  ) {
    endOld--;
    endNew--;
  }
  shared.updateSource(start, endOld, next.slice(start, endNew));
}

/** The form of one code cell, placed beside its editor (above it in narrow windows). */
class CellFormWidget extends ReactWidget {
  constructor(
    readonly cell: CodeCell,
    private readonly trans: TranslationBundle
  ) {
    super();
    this.addClass('ma-CodeForm');
    this.form = parseForm(cell.model.sharedModel.getSource());
    cell.model.contentChanged.connect(this.onContent, this);
    cell.model.metadataChanged.connect(this.applyView, this);
    this.applyView();
  }

  form: IParsedForm;

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.cell.model?.contentChanged.disconnect(this.onContent, this);
    this.cell.model?.metadataChanged.disconnect(this.applyView, this);
    super.dispose();
  }

  private onContent(): void {
    const had = this.form.hasForm;
    this.form = parseForm(this.cell.model.sharedModel.getSource());
    this.applyView();
    // Cells without a form (most of them) keep an empty, hidden widget: no re-render.
    if (had || this.form.hasForm) {
      this.update();
    }
  }

  /** Show or hide the form and the code from the cell's metadata. */
  applyView(): void {
    const view = readView(this.cell);
    const has = this.form.hasForm;
    this.cell.toggleClass('ma-mod-hasForm', has && view !== 'code');
    this.cell.toggleClass('ma-mod-formHideCode', has && view === 'form');
    this.setHidden(!has || view === 'code');
  }

  private edit(next: (source: string) => string): void {
    applySource(this.cell, next(this.cell.model.sharedModel.getSource()));
  }

  protected render(): JSX.Element {
    return (
      <CodeForm
        form={this.form}
        trans={this.trans}
        onValue={(field: IFormField, value) => {
          if (this.cell.readOnly) {
            return this.trans.__('This cell is read-only.');
          }
          // Find the field again: the code may have moved it since the render.
          const source = this.cell.model.sharedModel.getSource();
          const current = parseForm(source).fields.find(
            f => f.line === field.line && f.name === field.name
          );
          if (!current) {
            return this.trans.__('The code of this field has changed.');
          }
          const result = setFieldValue(source, current, value);
          if (!result.ok) {
            return this.trans.__(result.error);
          }
          applySource(this.cell, result.source);
          return null;
        }}
        onDelete={field => {
          if (!this.cell.readOnly) {
            this.edit(src => removeField(src, field.line));
          }
        }}
        onTitle={text => {
          if (!this.cell.readOnly) {
            this.edit(src => setTitle(src, text));
          }
        }}
      />
    );
  }
}

/** The form widget of a cell, creating it the first time. */
const forms = new WeakMap<Cell, CellFormWidget>();

function attach(cell: Cell, trans: TranslationBundle): void {
  if (cell.model.type !== 'code' || forms.has(cell) || cell.isDisposed) {
    return;
  }
  const wrapper = cell.inputArea?.parent;
  if (!(wrapper instanceof Panel)) {
    return; // not rendered yet; attached when it is
  }
  const widget = new CellFormWidget(cell as CodeCell, trans);
  forms.set(cell, widget);
  wrapper.addWidget(widget);
  cell.disposed.connect(() => widget.dispose());
}

function watchNotebook(panel: NotebookPanel, trans: TranslationBundle): void {
  const notebook = panel.content;
  const attachAll = () => {
    for (const cell of notebook.widgets) {
      if (forms.has(cell)) {
        continue;
      }
      if (cell.inputArea) {
        attach(cell, trans);
      } else {
        void cell.ready.then(() => attach(cell, trans));
      }
    }
  };
  void panel.context.ready.then(() => {
    attachAll();
    notebook.model?.cells.changed.connect(() =>
      requestAnimationFrame(attachAll)
    );
  });
}

/**
 * Colab-style forms on code cells: `#@title`/`#@param` lines become a form bound to the
 * code, with context-menu commands to add a form, add fields and hide code or form.
 */
export const codeFormsPlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Code-cell forms: #@title / #@param annotations shown as inputs, dropdowns and sliders bound to the code.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load('ma_notebook');
    tracker.widgetAdded.connect((_sender, panel) =>
      watchNotebook(panel, trans)
    );
    tracker.forEach(panel => watchNotebook(panel, trans));

    const activeCodeCell = (): CodeCell | null => {
      const cell = tracker.activeCell;
      return cell && cell.model.type === 'code' ? (cell as CodeCell) : null;
    };
    const activeForm = (): CellFormWidget | null => {
      const cell = activeCodeCell();
      if (!cell) {
        return null;
      }
      attach(cell, trans);
      return forms.get(cell) ?? null;
    };
    const hasForm = () => !!activeForm()?.form.hasForm;

    app.commands.addCommand(CommandIDs.addForm, {
      label: trans.__('Add Form'),
      caption: trans.__('Add a form (#@title) to this code cell'),
      isEnabled: () => !!activeCodeCell(),
      execute: () => {
        const form = activeForm();
        if (!form) {
          return;
        }
        applySource(
          form.cell,
          addTitle(form.cell.model.sharedModel.getSource())
        );
        if (readView(form.cell) === 'code') {
          writeView(form.cell, 'both');
        }
      }
    });
    app.commands.addCommand(CommandIDs.addFormField, {
      label: trans.__('Add new form field'),
      isEnabled: () => !!activeCodeCell(),
      execute: async () => {
        const form = activeForm();
        if (!form) {
          return;
        }
        const spec = await askNewField(form.form.fields, trans);
        if (!spec || form.isDisposed) {
          return;
        }
        const source = addTitle(form.cell.model.sharedModel.getSource());
        applySource(form.cell, addField(source, spec));
      }
    });
    const viewCommand = (id: string, label: string, view: FormView) =>
      app.commands.addCommand(id, {
        label,
        isEnabled: hasForm,
        isToggled: () => {
          const cell = activeCodeCell();
          return !!cell && hasForm() && readView(cell) === view;
        },
        execute: () => {
          const cell = activeCodeCell();
          if (cell) {
            writeView(cell, view);
          }
        }
      });
    viewCommand(CommandIDs.hideFormCode, trans.__('Hide code'), 'form');
    viewCommand(CommandIDs.hideForm, trans.__('Hide form'), 'code');
    viewCommand(CommandIDs.showFormAll, trans.__('Show all'), 'both');

    const editMenu = new Menu({ commands: app.commands });
    editMenu.title.label = trans.__('Edit Form');
    editMenu.id = 'ma-notebook-edit-form-menu';
    for (const command of [
      CommandIDs.addFormField,
      CommandIDs.hideFormCode,
      CommandIDs.hideForm,
      CommandIDs.showFormAll
    ]) {
      editMenu.addItem({ command });
    }
    app.contextMenu.addItem({
      command: CommandIDs.addForm,
      selector: '.jp-Notebook .jp-CodeCell',
      rank: -2
    });
    app.contextMenu.addItem({
      type: 'submenu',
      submenu: editMenu,
      selector: '.jp-Notebook .jp-CodeCell',
      rank: -1
    });

    suggestFormParameters(app, tracker);
  }
};
