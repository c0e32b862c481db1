import { Dialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { DisposableDelegate, IDisposable } from '@lumino/disposable';
import { Panel, TabBar, Widget } from '@lumino/widgets';
import { IAddFilesContext, IAddFilesDialog, IAddFilesTab } from '../tokens';

/**
 * The dialog body: a tab bar and one content widget per registered source.
 *
 * Plain flow layout (no absolutely positioned Lumino box layout), so the
 * dialog sizes to its content and nothing is clipped.
 */
class AddFilesBody extends Panel {
  constructor(
    tabs: IAddFilesTab[],
    context: IAddFilesContext,
    trans: TranslationBundle,
    selected?: string
  ) {
    super();
    this.addClass('ma-AddFiles');
    this._tabBar.addClass('ma-AddFiles-tabs');
    this._content.addClass('ma-AddFiles-content');
    this.addWidget(this._tabBar);
    this.addWidget(this._content);
    if (tabs.length === 0) {
      const empty = new Widget();
      empty.node.textContent = trans.__('No file sources are available.');
      empty.title.label = trans.__('Add files');
      this._add(empty);
    }
    for (const tab of tabs) {
      const widget = tab.create(context);
      widget.id = widget.id || `ma-add-files-${tab.id}`;
      widget.title.label = tab.label;
      widget.addClass('ma-AddFiles-tab');
      widget.node.dataset.tab = tab.id;
      this._add(widget);
    }
    const index = tabs.findIndex(t => t.id === selected);
    this._tabBar.currentIndex = index >= 0 ? index : 0;
    this._show();
    this._tabBar.currentChanged.connect(() => this._show());
  }

  private _add(widget: Widget): void {
    this._tabBar.addTab(widget.title);
    this._content.addWidget(widget);
  }

  private _show(): void {
    const current = this._tabBar.currentTitle?.owner;
    for (const widget of this._content.widgets) {
      widget.setHidden(widget !== current);
    }
  }

  private _tabBar = new TabBar<Widget>({ tabsMovable: false });
  private _content = new Panel();
}

/** The "Add files to Notebook" dialog with its tab registry. */
export class AddFilesDialog implements IAddFilesDialog {
  constructor(
    private trans: TranslationBundle,
    private currentPath: () => string
  ) {}

  addTab(tab: IAddFilesTab): IDisposable {
    this._tabs.push(tab);
    this._tabs.sort((a, b) => a.rank - b.rank);
    return new DisposableDelegate(() => {
      const i = this._tabs.indexOf(tab);
      if (i >= 0) {
        this._tabs.splice(i, 1);
      }
    });
  }

  get tabs(): readonly IAddFilesTab[] {
    return this._tabs;
  }

  async open(options: { path?: string; tab?: string } = {}): Promise<void> {
    if (this._dialog) {
      return;
    }
    const path = options.path ?? this.currentPath();
    let dialog: Dialog<unknown> | null = null;
    const context: IAddFilesContext = {
      path,
      close: () => dialog?.resolve(0)
    };
    const body = new AddFilesBody(this._tabs, context, this.trans, options.tab);
    dialog = new Dialog({
      title: this.trans.__('Add files to Notebook: /%1', path),
      body,
      buttons: [Dialog.cancelButton({ label: this.trans.__('Close') })],
      hasClose: true
    });
    dialog.addClass('ma-AddFilesDialog');
    this._dialog = dialog;
    try {
      await dialog.launch();
    } finally {
      this._dialog = null;
      dialog.dispose();
    }
  }

  private _tabs: IAddFilesTab[] = [];
  private _dialog: Dialog<unknown> | null = null;
}
