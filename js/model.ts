import { Notebook, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { executeSilently, handoverCode } from './kernel';
import { requestAPI } from './request';
import { firstLine, hasMarker, readTags } from './tags';
import {
  IContract,
  IHistory,
  IKernelStatus,
  IPackageResult,
  IServerConfig,
  IVerifyJob
} from './types';

export * from './types';

/**
 * Steps of `%handover package`, in the order the magic reports them.
 */
export const PACKAGE_STEPS = [
  'export',
  'contract',
  'model',
  'environment',
  'lock',
  'examples',
  'log'
];

/** How often a running verify job is polled (ms). */
const VERIFY_POLL_MS = 1000;

/** Quiet time after a user's execution before the kernel is asked again (ms). */
const REFRESH_DELAY_MS = 400;

/**
 * One step of `%handover package` as the panel saw it.
 */
export interface IPackageStep {
  step: string;
  seconds: number;
  at: number;
}

/**
 * One cell of the notebook that carries the tag (or the `# tag` marker).
 */
export interface ITaggedCell {
  index: number;
  executionCount: number | null;
  firstLine: string;
}

/** Where the kernel is, as the panel explains it. */
export type KernelPhase = 'none' | 'starting' | 'idle' | 'busy' | 'dead';

/** A long action: packaging or verification. */
export type Phase = 'idle' | 'running' | 'done' | 'failed';

/** The settings of the extension (schema/plugin.json). */
export interface IHandoverSettings {
  trackingUri: string;
  experiment: string;
  examples: number;
  trackingUiUrl: string;
}

/**
 * The state that the sidebar shows.
 */
export interface IHandoverState {
  /** Path of the active notebook (relative to the server root), `null` when none. */
  notebookPath: string | null;
  /** Tag that marks inference cells. */
  tagName: string;
  /** The tagged cells of the active notebook, read from the open document. */
  taggedCells: ITaggedCell[];
  /** Whether the active cell carries the tag. */
  activeCellTagged: boolean;
  kernel: KernelPhase;
  /** What `%handover status --json` answered last. */
  status: IKernelStatus | null;
  statusLoading: boolean;
  statusError: string | null;
  /** Milliseconds the last silent status query took in the kernel. */
  statusMs: number | null;
  /** The pickers. */
  model: string | null;
  train: string | null;
  target: string | null;
  contract: IContract | null;
  contractLoading: boolean;
  contractError: string | null;
  packagePhase: Phase;
  /** Steps reached so far: the magic's clock (`seconds`) and the panel's (`at`, ms). */
  packageSteps: IPackageStep[];
  /** When the packaging ended, on the panel's clock (ms). */
  packageEndedAt: number | null;
  packageResult: IPackageResult | null;
  packageError: string | null;
  verifyPhase: Phase;
  verifyJob: IVerifyJob | null;
  verifyError: string | null;
  history: IHistory | null;
  historyLoading: boolean;
  historyError: string | null;
  /** The server extension's configuration, `null` until fetched. */
  server: IServerConfig | null;
  settings: IHandoverSettings;
  /** Why the server configuration could not be fetched, if it could not. */
  error: string | null;
}

/** A key of the state. */
export type HandoverStateKey = keyof IHandoverState;

const INITIAL_STATE: IHandoverState = {
  notebookPath: null,
  tagName: 'handover',
  taggedCells: [],
  activeCellTagged: false,
  kernel: 'none',
  status: null,
  statusLoading: false,
  statusError: null,
  statusMs: null,
  model: null,
  train: null,
  target: null,
  contract: null,
  contractLoading: false,
  contractError: null,
  packagePhase: 'idle',
  packageSteps: [],
  packageEndedAt: null,
  packageResult: null,
  packageError: null,
  verifyPhase: 'idle',
  verifyJob: null,
  verifyError: null,
  history: null,
  historyLoading: false,
  historyError: null,
  server: null,
  settings: {
    trackingUri: '',
    experiment: '',
    examples: 20,
    trackingUiUrl: ''
  },
  error: null
};

/**
 * Parse a progress line of `%handover package` (`[handover  0.1s] step`).
 */
export function parseStepLine(
  line: string
): { step: string; seconds: number } | null {
  const match = /^\[handover\s+([\d.]+)s\]\s+(\S+)/.exec(line.trim());
  return match ? { step: match[2], seconds: Number(match[1]) } : null;
}

/**
 * The MLflow UI page of a run, when a UI is known.
 */
export function runLink(
  result: IPackageResult | null,
  uiUrl: string | null
): string | null {
  if (!result || !result.run_id || !result.experiment_id) {
    return null;
  }
  let base = uiUrl;
  if (
    !base &&
    result.tracking_uri &&
    /^https?:\/\//.test(result.tracking_uri)
  ) {
    base = result.tracking_uri;
  }
  if (!base) {
    return null;
  }
  return `${base.replace(/\/+$/, '')}/#/experiments/${result.experiment_id}/runs/${result.run_id}`;
}

/**
 * Holds the sidebar state, follows the active notebook and its kernel, talks to the
 * kernel (silently) and to the server extension, and emits `stateChanged`; views render
 * the state and call the actions below, they fetch nothing.
 */
export class HandoverModel {
  constructor() {
    NotebookActions.executed.connect(this._onExecuted, this);
  }

  get state(): Readonly<IHandoverState> {
    return this._state;
  }

  get stateChanged(): ISignal<this, Readonly<IHandoverState>> {
    return this._stateChanged;
  }

  /** The followed notebook panel, if any. */
  get notebook(): NotebookPanel | null {
    return this._panel;
  }

  /**
   * Whether the panel is shown: kernel queries run only then.
   */
  setVisible(visible: boolean): void {
    const was = this._visible;
    this._visible = visible;
    if (visible && !was && this._stale) {
      void this.refreshKernel();
    }
  }

  /**
   * Follow another notebook panel (or none).
   */
  setNotebook(panel: NotebookPanel | null): void {
    if (panel === this._panel) {
      return;
    }
    const old = this._panel;
    if (old) {
      old.context.pathChanged.disconnect(this._onCellsChanged, this);
      old.context.model.contentChanged.disconnect(this._onCellsChanged, this);
      old.content.activeCellChanged.disconnect(this._onCellsChanged, this);
      old.sessionContext.statusChanged.disconnect(this._onKernelStatus, this);
      old.sessionContext.kernelChanged.disconnect(this._onKernelChanged, this);
      old.disposed.disconnect(this._onPanelDisposed, this);
    }
    this._panel = panel;
    this._stopVerifyPoll();
    this._update({
      status: null,
      statusError: null,
      statusMs: null,
      model: null,
      train: null,
      target: null,
      contract: null,
      contractError: null,
      packagePhase: 'idle',
      packageSteps: [],
      packageResult: null,
      packageError: null,
      verifyPhase: 'idle',
      verifyJob: null,
      verifyError: null,
      history: null,
      historyError: null
    });
    if (panel) {
      panel.context.pathChanged.connect(this._onCellsChanged, this);
      panel.context.model.contentChanged.connect(this._onCellsChanged, this);
      panel.content.activeCellChanged.connect(this._onCellsChanged, this);
      panel.sessionContext.statusChanged.connect(this._onKernelStatus, this);
      panel.sessionContext.kernelChanged.connect(this._onKernelChanged, this);
      panel.disposed.connect(this._onPanelDisposed, this);
      void panel.context.ready.then(() => {
        if (this._panel === panel) {
          this.refresh();
          void this.refreshHistory();
        }
      });
      void panel.sessionContext.ready.then(() => {
        if (this._panel === panel) {
          this._onKernelStatus();
          void this.refreshKernel();
        }
      });
    }
    this.refresh();
    this._onKernelStatus();
  }

  /**
   * Change the tag that marks inference cells.
   */
  setTagName(tagName: string): void {
    this._update({ tagName });
    this.refresh();
  }

  /**
   * Apply the user settings.
   */
  setSettings(settings: Partial<IHandoverSettings>): void {
    this._update({ settings: { ...this._state.settings, ...settings } });
  }

  /**
   * Change the tracking URI taken from the user settings.
   */
  setTrackingUri(trackingUri: string): void {
    this.setSettings({ trackingUri });
  }

  /**
   * Re-read the tagged cells and the active cell from the open notebook (no kernel).
   */
  refresh(): void {
    const panel = this._panel;
    if (!panel || panel.isDisposed) {
      this._update({
        notebookPath: null,
        taggedCells: [],
        activeCellTagged: false
      });
      return;
    }
    const tag = this._state.tagName;
    const tagged: ITaggedCell[] = [];
    const cells = panel.context.model.cells;
    for (let i = 0; i < cells.length; i++) {
      const cell = cells.get(i);
      if (cell.type !== 'code') {
        continue;
      }
      const source = cell.sharedModel.getSource();
      if (
        readTags(cell.getMetadata('tags')).includes(tag) ||
        hasMarker(source, tag)
      ) {
        const count = (cell as { executionCount?: number | null })
          .executionCount;
        tagged.push({
          index: i,
          executionCount: typeof count === 'number' ? count : null,
          firstLine: firstLine(source, tag)
        });
      }
    }
    const active = panel.content.activeCell;
    const same =
      tagged.length === this._state.taggedCells.length &&
      tagged.every((cell, i) => {
        const other = this._state.taggedCells[i];
        return (
          cell.index === other.index &&
          cell.executionCount === other.executionCount &&
          cell.firstLine === other.firstLine
        );
      });
    this._update({
      notebookPath: panel.context.path,
      taggedCells: same ? this._state.taggedCells : tagged,
      activeCellTagged: active
        ? readTags(active.model.getMetadata('tags')).includes(tag)
        : false
    });
  }

  /**
   * Make cell `index` of the notebook the active one and scroll it into view.
   */
  jumpToCell(index: number): void {
    const panel = this._panel;
    if (!panel || index < 0 || index >= panel.content.widgets.length) {
      return;
    }
    const notebook = panel.content;
    notebook.activeCellIndex = index;
    notebook.mode = 'command';
    void notebook.scrollToCell(notebook.widgets[index], 'center');
    notebook.activate();
  }

  /**
   * Ask the kernel what would be packaged (`%handover status --json`, silently).
   */
  async refreshKernel(): Promise<void> {
    const kernel = this._kernel();
    if (!kernel) {
      this._update({ statusLoading: false });
      return;
    }
    if (!this._visible) {
      this._stale = true;
      return;
    }
    this._stale = false;
    const args = ['status', '--json', '--tag', this._state.tagName];
    this._update({ statusLoading: true });
    try {
      const result = await executeSilently<IKernelStatus>(
        kernel,
        handoverCode(args)
      );
      if (kernel !== this._kernel()) {
        return;
      }
      if (result.error || !result.data) {
        this._update({
          statusLoading: false,
          statusMs: result.elapsed,
          statusError:
            result.error ??
            'the kernel answered without a status: is jupyter_handover installed in this kernel?'
        });
        return;
      }
      const status = result.data;
      this._update({
        status,
        statusLoading: false,
        statusError: null,
        statusMs: result.elapsed
      });
      this._pick(status);
    } catch (reason) {
      this._update({ statusLoading: false, statusError: String(reason) });
    }
  }

  /** Choose the fitted model. */
  selectModel(model: string | null): void {
    if (model === this._state.model) {
      return;
    }
    const frames = (model && this._state.status?.frames[model]) || [];
    const train = frames.includes(this._state.train ?? '')
      ? this._state.train
      : (frames[0] ?? null);
    this._update({ model });
    this.selectTrain(train);
  }

  /** Choose the training frame; its contract is inferred in the kernel. */
  selectTrain(train: string | null): void {
    if (train === this._state.train) {
      return;
    }
    const columns = (train && this._state.status?.columns[train]) || [];
    const target =
      this._state.target && columns.includes(this._state.target)
        ? this._state.target
        : null;
    this._update({ train, target });
    void this._loadContract();
  }

  /** Choose the target column (left out of the input contract), or none. */
  selectTarget(target: string | null): void {
    if (target === this._state.target) {
      return;
    }
    this._update({ target });
    void this._loadContract();
  }

  /**
   * Save the notebook, then run `%handover package --json` silently in the kernel, with
   * the step lines as progress; then refresh the history.
   */
  async package(): Promise<void> {
    const panel = this._panel;
    const kernel = this._kernel();
    if (this._state.packagePhase === 'running') {
      return;
    }
    if (!panel || !kernel) {
      this._update({
        packagePhase: 'failed',
        packageError: panel
          ? 'no kernel: start the notebook kernel and run the training cells first'
          : 'no notebook: open the notebook to hand over'
      });
      return;
    }
    this._update({
      packagePhase: 'running',
      packageSteps: [{ step: 'save', seconds: 0, at: performance.now() }],
      packageEndedAt: null,
      packageResult: null,
      packageError: null,
      verifyPhase: 'idle',
      verifyJob: null,
      verifyError: null
    });
    try {
      await panel.context.save();
      const notebook =
        this._state.status?.notebook ?? (await this._notebookInKernel(kernel));
      const state = this._state;
      // step lines on the stream are the panel's progress display
      const args = [
        'package',
        '--json',
        '--progress',
        'lines',
        '--tag',
        state.tagName
      ];
      const add = (flag: string, value: string | null | undefined): void => {
        if (value) {
          args.push(flag, value);
        }
      };
      add('--model', state.model);
      add('--train', state.train);
      add('--target', state.target);
      add('--tracking-uri', state.settings.trackingUri);
      add('--experiment', state.settings.experiment);
      add('--examples', String(state.settings.examples || 20));
      add('--notebook', notebook);
      const result = await executeSilently<IPackageResult>(
        kernel,
        handoverCode(args),
        line => {
          const step = parseStepLine(line);
          if (step) {
            this._update({
              packageSteps: [
                ...this._state.packageSteps,
                { ...step, at: performance.now() }
              ]
            });
          }
        }
      );
      this._update({ packageEndedAt: performance.now() });
      if (result.error || !result.data || result.data.status === 'failed') {
        this._update({
          packagePhase: 'failed',
          packageResult: result.data,
          packageError:
            result.error ??
            result.data?.error ??
            'the kernel answered without a result'
        });
      } else {
        this._update({ packagePhase: 'done', packageResult: result.data });
      }
    } catch (reason) {
      this._update({
        packagePhase: 'failed',
        packageError: String(reason),
        packageEndedAt: performance.now()
      });
    }
    void this.refreshHistory();
    void this.refreshKernel();
  }

  /**
   * Verify the last packaged model in the server extension (a background job there) and
   * poll its progress until it ends.
   */
  async verify(): Promise<void> {
    const result = this._state.packageResult;
    const ref = result?.model_uri ?? result?.artifact_path;
    if (!ref || this._state.verifyPhase === 'running') {
      return;
    }
    this._update({
      verifyPhase: 'running',
      verifyJob: null,
      verifyError: null
    });
    try {
      const job = await requestAPI<IVerifyJob>('verify', {
        method: 'POST',
        body: JSON.stringify({
          model_ref: ref,
          tracking_uri:
            result?.tracking_uri || this._state.settings.trackingUri,
          path: this._state.notebookPath
        })
      });
      this._update({ verifyJob: job });
      this._pollVerify(job.id);
    } catch (reason) {
      this._update({ verifyPhase: 'failed', verifyError: String(reason) });
    }
  }

  /**
   * Read this notebook's earlier handovers from MLflow (through the server extension).
   */
  async refreshHistory(): Promise<void> {
    const path = this._state.notebookPath;
    if (!path) {
      return;
    }
    this._update({ historyLoading: true });
    const query = new URLSearchParams({ path });
    if (this._state.settings.trackingUri) {
      query.set('tracking_uri', this._state.settings.trackingUri);
    }
    try {
      const history = await requestAPI<IHistory>(`history?${query}`);
      if (path === this._state.notebookPath) {
        this._update({ history, historyLoading: false, historyError: null });
      }
    } catch (reason) {
      if (path === this._state.notebookPath) {
        this._update({ historyLoading: false, historyError: String(reason) });
      }
    }
  }

  /**
   * Fetch the server extension's configuration.
   */
  async fetchServerConfig(): Promise<void> {
    try {
      const server = await requestAPI<IServerConfig>('config');
      this._update({ server, error: null });
    } catch (reason) {
      this._update({ server: null, error: String(reason) });
    }
  }

  dispose(): void {
    this._stopVerifyPoll();
    NotebookActions.executed.disconnect(this._onExecuted, this);
    Signal.clearData(this);
  }

  private _kernel(): Kernel.IKernelConnection | null {
    const panel = this._panel;
    if (!panel || panel.isDisposed) {
      return null;
    }
    return panel.sessionContext.session?.kernel ?? null;
  }

  private async _notebookInKernel(
    kernel: Kernel.IKernelConnection
  ): Promise<string | null> {
    const result = await executeSilently<IKernelStatus>(
      kernel,
      handoverCode(['status', '--json', '--tag', this._state.tagName])
    );
    return result.data?.notebook ?? null;
  }

  private _pick(status: IKernelStatus): void {
    const models = Object.keys(status.models);
    let model = this._state.model;
    if (!model || !models.includes(model)) {
      model = status.default.model ?? models[0] ?? null;
    }
    const frames = (model && status.frames[model]) || [];
    let train = this._state.train;
    if (!train || !frames.includes(train)) {
      train =
        status.default.model === model && status.default.train
          ? status.default.train
          : (frames[0] ?? null);
    }
    const keepContract =
      train === status.default.train && !this._state.target && status.contract;
    this._update({
      model,
      train,
      contract: keepContract ? status.contract : this._state.contract,
      contractError: keepContract ? null : this._state.contractError
    });
    if (!keepContract && train) {
      void this._loadContract();
    }
    if (!train) {
      this._update({ contract: null });
    }
  }

  private async _loadContract(): Promise<void> {
    const kernel = this._kernel();
    const train = this._state.train;
    if (!kernel || !train) {
      this._update({ contract: null, contractLoading: false });
      return;
    }
    const args = ['contract', train, '--json'];
    if (this._state.target) {
      args.push('--target', this._state.target);
    }
    const ticket = ++this._contractTicket;
    this._update({ contractLoading: true });
    const result = await executeSilently<IContract>(kernel, handoverCode(args));
    if (ticket !== this._contractTicket) {
      return;
    }
    this._update({
      contract: result.data,
      contractLoading: false,
      contractError: result.error
    });
  }

  private _pollVerify(jobId: string): void {
    this._stopVerifyPoll();
    this._verifyTimer = window.setTimeout(async () => {
      this._verifyTimer = null;
      try {
        const job = await requestAPI<IVerifyJob>(`verify/${jobId}`);
        if (this._state.verifyJob?.id !== jobId) {
          return;
        }
        if (job.state === 'running') {
          this._update({ verifyJob: job });
          this._pollVerify(jobId);
          return;
        }
        this._update({
          verifyJob: job,
          verifyPhase: job.state === 'passed' ? 'done' : 'failed',
          verifyError: job.error
        });
        void this.refreshHistory();
      } catch (reason) {
        this._update({ verifyPhase: 'failed', verifyError: String(reason) });
      }
    }, VERIFY_POLL_MS);
  }

  private _stopVerifyPoll(): void {
    if (this._verifyTimer !== null) {
      window.clearTimeout(this._verifyTimer);
      this._verifyTimer = null;
    }
  }

  private _onExecuted(_: unknown, args: { notebook: Notebook }): void {
    if (!this._panel || args.notebook !== this._panel.content) {
      return;
    }
    if (this._refreshTimer !== null) {
      window.clearTimeout(this._refreshTimer);
    }
    this._refreshTimer = window.setTimeout(() => {
      this._refreshTimer = null;
      if (this._state.kernel === 'busy') {
        this._stale = true; // asked again when the kernel is idle
      } else {
        void this.refreshKernel();
      }
    }, REFRESH_DELAY_MS);
    this.refresh();
  }

  private _onKernelStatus(): void {
    const panel = this._panel;
    let kernel: KernelPhase = 'none';
    if (panel && !panel.isDisposed) {
      const context = panel.sessionContext;
      const status = context.kernelDisplayStatus;
      if (!context.session?.kernel) {
        kernel = context.isReady || context.hasNoKernel ? 'none' : 'starting';
      } else if (status === 'idle') {
        kernel = 'idle';
      } else if (status === 'busy') {
        kernel = 'busy';
      } else if (status === 'dead' || status === 'unknown') {
        kernel = 'dead';
      } else {
        kernel = 'starting';
      }
    }
    const wasBusy = this._state.kernel === 'busy';
    this._update({ kernel });
    if (kernel === 'idle' && wasBusy && this._stale && this._visible) {
      void this.refreshKernel();
    }
  }

  private _onKernelChanged(): void {
    this._update({
      status: null,
      statusError: null,
      contract: null,
      packageResult: null
    });
    this._onKernelStatus();
    void this._panel?.sessionContext.ready.then(() => this.refreshKernel());
  }

  private _onCellsChanged(): void {
    this.refresh();
  }

  private _onPanelDisposed(): void {
    this.setNotebook(null);
  }

  private _update(change: Partial<IHandoverState>): void {
    const next = { ...this._state, ...change };
    const changed = (Object.keys(change) as HandoverStateKey[]).some(
      key => next[key] !== this._state[key]
    );
    if (changed) {
      this._state = next;
      this._stateChanged.emit(next);
    }
  }

  private _panel: NotebookPanel | null = null;
  private _visible = false;
  private _stale = true;
  private _contractTicket = 0;
  private _verifyTimer: number | null = null;
  private _refreshTimer: number | null = null;
  private _state: IHandoverState = INITIAL_STATE;
  private _stateChanged = new Signal<this, Readonly<IHandoverState>>(this);
}
