import { Token } from '@lumino/coreutils';
import { IDisposable } from '@lumino/disposable';
import { Widget } from '@lumino/widgets';

/** Command ids of every ma-notebook feature. */
export namespace CommandIDs {
  export const openEvents = 'ma-notebook:open-events';
  export const refreshEvents = 'ma-notebook:refresh-events';
  export const addFiles = 'ma-notebook:add-files';
  export const openTensorBoard = 'ma-notebook:open-tensorboard';
  export const openMindInsight = 'ma-notebook:open-mindinsight';
  export const openFolderInTensorBoard =
    'ma-notebook:open-folder-in-tensorboard';
  export const openFolderInMindInsight =
    'ma-notebook:open-folder-in-mindinsight';
  export const openVisualization = 'ma-notebook:open-visualization';
  export const openObs = 'ma-notebook:open-obs';
  export const checkCron = 'ma-notebook:check-cron';
  export const addForm = 'ma-notebook:add-form';
  export const addFormField = 'ma-notebook:add-form-field';
  export const hideFormCode = 'ma-notebook:form-hide-code';
  export const hideForm = 'ma-notebook:form-hide-form';
  export const showFormAll = 'ma-notebook:form-show-all';
  export const openRemoteSsh = 'ma-notebook:open-remote-ssh';
  export const saveImage = 'ma-notebook:save-image';
  export const openStorage = 'ma-notebook:open-storage';
  export const mountStorage = 'ma-notebook:mount-storage';
  export const renewAutoStop = 'ma-notebook:renew-auto-stop';
  export const openResourceMonitor = 'ma-notebook:open-resource-monitor';
}

/** What GET /ma-notebook/api/info returns. */
export interface IServerInfo {
  version: string;
  workspace_dir: string;
  data_dir: string;
  capabilities: Record<string, ICapabilityInfo>;
}

/** One capability's availability on the server. */
export interface ICapabilityInfo {
  available: boolean;
  reason?: string;
  [key: string]: unknown;
}

/** One event of the instance event log. */
export interface IEvent {
  id: number;
  time: number;
  type: string;
  severity: 'Warning' | 'Major' | 'Critical';
  message: string;
  details: Record<string, unknown>;
}

/** A server task (long work that outlives the browser tab). */
export interface ITask {
  id: string;
  kind: string;
  title: string;
  /** `interrupted`: the server stopped while it ran; resume or discard it. */
  state:
    'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted';
  created: number;
  started: number | null;
  finished: number | null;
  phase: string;
  done: number;
  total: number | null;
  percent: number | null;
  rate: number;
  message: string;
  result: any;
  error: string | null;
  error_reason: string | null;
  meta: Record<string, any>;
  /** Whether an interrupted task can be resumed (else only discarded). */
  resumable?: boolean;
}

/** The core service other ma-notebook plugins build on. */
export interface IMaNotebook {
  /** Server info; rejects when the server extension is missing. */
  readonly serverInfo: Promise<IServerInfo>;
  /** The frontend's own version. */
  readonly version: string;
}

export const IMaNotebook = new Token<IMaNotebook>(
  'ma-notebook:core',
  'The ma-notebook core: server info and capability availability.'
);

/** What a tab of the "Add files to Notebook" dialog is given when it is created. */
export interface IAddFilesContext {
  /** The file browser folder the files go to (relative to the server root). */
  readonly path: string;
  /** Close the dialog. */
  close(): void;
}

/** One source tab of the "Add files to Notebook" dialog (Local, Git, OBS, Remote...). */
export interface IAddFilesTab {
  /** Stable id, e.g. `local` or `git`. */
  id: string;
  /** Tab label shown to the user (already translated). */
  label: string;
  /** Order among tabs; lower comes first. */
  rank: number;
  /** Build the tab's content for one opening of the dialog. */
  create(context: IAddFilesContext): Widget;
}

/** The "Add files to Notebook" dialog and its tab registry. */
export interface IAddFilesDialog {
  /** Register a source tab; dispose the result to remove it. */
  addTab(tab: IAddFilesTab): IDisposable;
  /** Open the dialog on a folder (default: the file browser's) and tab (default: first). */
  open(options?: { path?: string; tab?: string }): Promise<void>;
}

export const IAddFilesDialog = new Token<IAddFilesDialog>(
  'ma-notebook:add-files',
  'The "Add files to Notebook" dialog: a tab per source of files.'
);
