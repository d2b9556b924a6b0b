import { Debouncer, Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { sameCells, selectionChange, targetFor, trainFor } from './helpers';
import { queryContract, queryServerConfig, queryStatus } from './queries';
import {
  DEFAULT_TIMINGS,
  HandoverStateKey,
  IHandoverNotebook,
  IHandoverServices,
  IHandoverSettings,
  IHandoverState,
  IHandoverTimings,
  INITIAL_STATE,
  KERNEL_RESET,
  NOTEBOOK_RESET,
  NotebookChange
} from './state';
import { HistoryActions, ReleaseAction } from './modelRelease';
import { runPackage } from './packaging';
import { IHistoryRun, IKernelStatus } from './types';
import { VerifyJobs } from './verify';

/**
 * Holds the sidebar state, follows the active notebook and its kernel, talks to the
 * kernel (silently) and to the server extension, and emits `stateChanged`; views render
 * the state and call the actions below, they fetch nothing.
 *
 * The kernel is asked what would be packaged by a `Poll`: at once when the panel is
 * shown, a moment after the user's executions (debounced), and every `statusInterval`;
 * it stands by while the panel or the page is hidden or the kernel is not idle.
 */
export class HandoverModel {
  constructor(
    private _services: IHandoverServices,
    timings: Partial<IHandoverTimings> = {}
  ) {
    this._timings = { ...DEFAULT_TIMINGS, ...timings };
    this._statusPoll = new Poll({
      factory: () => this.refreshKernel(),
      frequency: { interval: this._timings.statusInterval, backoff: false },
      standby: () =>
        !this._visible || document.hidden || this._state.kernel !== 'idle',
      name: 'jupyter-handover:status'
    });
    this._debouncer = new Debouncer(
      () => this.requestStatus(),
      this._timings.refreshDelay
    );
    this._verify = new VerifyJobs(
      _services,
      this._timings.verifyInterval,
      () => !this._visible || document.hidden
    );
    this._verify.changed.connect((_, change) => this._update(change), this);
    this._verify.ended.connect(() => void this.refreshHistory(), this);
    this._history = new HistoryActions(_services, {
      read: () => this._state,
      update: change => this._update(change)
    });
  }

  get state(): Readonly<IHandoverState> {
    return this._state;
  }

  get stateChanged(): ISignal<this, Readonly<IHandoverState>> {
    return this._stateChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Whether the panel is shown: kernel queries run only then. */
  setVisible(visible: boolean): void {
    const was = this._visible;
    this._visible = visible;
    if (visible && !was && this._stale) {
      this.requestStatus();
    }
  }

  /**
   * Follow another notebook (or none); the model disposes the one it followed.
   */
  setNotebook(notebook: IHandoverNotebook | null): void {
    if (notebook === this._notebook) {
      return;
    }
    const old = this._notebook;
    if (old) {
      old.changed.disconnect(this._onNotebook, this);
      old.dispose();
    }
    this._notebook = notebook;
    this._verify.stop();
    this._update(NOTEBOOK_RESET);
    if (notebook) {
      notebook.changed.connect(this._onNotebook, this);
      void notebook.ready.then(() => {
        if (this._notebook === notebook) {
          this.refresh();
          void this.refreshHistory();
        }
      });
      void notebook.kernelReady.then(() => {
        if (this._notebook === notebook) {
          this._onKernelStatus();
          this.requestStatus();
        }
      });
    }
    this.refresh();
    this._onKernelStatus();
  }

  /** Change the tag that marks inference cells. */
  setTagName(tagName: string): void {
    this._update({ tagName });
    this.refresh();
  }

  /** Apply the user settings. */
  setSettings(settings: Partial<IHandoverSettings>): void {
    this._update({ settings: { ...this._state.settings, ...settings } });
  }

  /**
   * Re-read the tagged cells and the active cell from the open notebook (no kernel).
   */
  refresh(): void {
    const notebook = this._notebook;
    if (!notebook || notebook.isDisposed) {
      this._update({
        notebookPath: null,
        taggedCells: [],
        activeCellTagged: false
      });
      return;
    }
    const tag = this._state.tagName;
    const tagged = notebook.taggedCells(tag);
    this._update({
      notebookPath: notebook.path,
      taggedCells: sameCells(tagged, this._state.taggedCells)
        ? this._state.taggedCells
        : tagged,
      activeCellTagged: notebook.activeCellTagged(tag)
    });
  }

  /** Make cell `index` of the notebook the active one and scroll it into view. */
  jumpToCell(index: number): void {
    this._notebook?.jumpToCell(index);
  }

  /**
   * Ask the kernel again soon: now if the poll is not standing by, else once the panel
   * is shown and the kernel idle.
   */
  requestStatus(): void {
    this._stale = true;
    void this._statusPoll.refresh();
  }

  /** Ask the kernel what would be packaged (`%handover status --json`, silently). */
  async refreshKernel(): Promise<void> {
    const kernel = this._notebook?.kernel ?? null;
    if (!kernel) {
      this._update({ statusLoading: false });
      return;
    }
    if (!this._visible) {
      this._stale = true;
      return;
    }
    this._stale = false;
    const ticket = ++this._statusTicket;
    this._update({ statusLoading: true });
    const { status, change } = await queryStatus(
      this._services,
      kernel,
      this._state.tagName
    );
    if (ticket !== this._statusTicket || kernel !== this._notebook?.kernel) {
      return;
    }
    this._update({
      ...change,
      ...(status ? { status } : {}),
      statusLoading: false,
      statusCount: this._state.statusCount + 1
    });
    if (status) {
      this._pick(status);
    }
  }

  /** Choose the fitted model. */
  selectModel(model: string | null): void {
    if (model === this._state.model) {
      return;
    }
    this._update({ model });
    this.selectTrain(trainFor(this._state.status, model, this._state.train));
  }

  /** Choose the training frame; its contract is inferred in the kernel. */
  selectTrain(train: string | null): void {
    if (train === this._state.train) {
      return;
    }
    const target = targetFor(this._state.status, train, this._state.target);
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
   * Save the notebook, then run `%handover package --json` silently in the kernel; its
   * progress display fills the step list; then refresh the history and the status.
   */
  async package(): Promise<void> {
    const notebook = this._notebook;
    const kernel = notebook?.kernel ?? null;
    if (this._state.packagePhase === 'running') {
      return;
    }
    if (!notebook || !kernel) {
      this._update({
        packagePhase: 'failed',
        packageError: notebook
          ? 'no kernel: start the notebook kernel and run the training cells first'
          : 'no notebook: open the notebook to hand over'
      });
      return;
    }
    this._verify.stop();
    await runPackage(
      { read: () => this._state, update: change => this._update(change) },
      this._services,
      notebook,
      kernel
    );
    void this.refreshHistory();
    this.requestStatus();
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
    await this._verify.start({
      model_ref: ref,
      tracking_uri: result?.tracking_uri || this._state.settings.trackingUri,
      path: this._state.notebookPath
    });
  }

  /** Cancel the running verify job (the server kills its processes). */
  async cancelVerify(): Promise<void> {
    if (this._state.verifyPhase === 'running') {
      await this._verify.cancel();
    }
  }

  /** Read this notebook's earlier handovers from MLflow (through the server). */
  async refreshHistory(): Promise<void> {
    await this._history.refresh();
  }

  /** Promote a version of the history (verify and shadow passed), or roll its alias back. */
  async release(
    action: ReleaseAction,
    run: IHistoryRun,
    alias?: string
  ): Promise<void> {
    await this._history.release(action, run, alias);
  }

  /** Fetch the server extension's configuration. */
  async fetchServerConfig(): Promise<void> {
    this._update(await queryServerConfig(this._services));
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this.setNotebook(null);
    this._statusPoll.dispose();
    this._debouncer.dispose();
    this._verify.dispose();
    Signal.clearData(this);
  }

  private _pick(status: IKernelStatus): void {
    const { change, needsContract } = selectionChange(status, this._state);
    this._update(change);
    if (needsContract) {
      void this._loadContract();
    }
  }

  private async _loadContract(): Promise<void> {
    const kernel = this._notebook?.kernel ?? null;
    const train = this._state.train;
    const ticket = ++this._contractTicket;
    if (!kernel || !train) {
      this._update({ contract: null, contractLoading: false });
      return;
    }
    this._update({ contractLoading: true });
    const change = await queryContract(
      this._services,
      kernel,
      train,
      this._state.target
    );
    if (ticket === this._contractTicket) {
      this._update({ ...change, contractLoading: false });
    }
  }

  private _onNotebook(_: IHandoverNotebook, change: NotebookChange): void {
    switch (change) {
      case 'cells':
        this.refresh();
        break;
      case 'kernel-status':
        this._onKernelStatus();
        break;
      case 'kernel':
        this._update(KERNEL_RESET);
        this._onKernelStatus();
        void this._notebook?.kernelReady.then(() => this.requestStatus());
        break;
      case 'executed':
        this._stale = true;
        void this._debouncer.invoke();
        this.refresh();
        break;
      case 'disposed':
        this.setNotebook(null);
        break;
    }
  }

  private _onKernelStatus(): void {
    const kernel = this._notebook?.kernelPhase ?? 'none';
    const was = this._state.kernel;
    this._update({ kernel });
    if (kernel === 'idle' && was !== 'idle' && this._stale && this._visible) {
      this.requestStatus();
    }
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

  private _notebook: IHandoverNotebook | null = null;
  private _visible = false;
  private _stale = true;
  private _isDisposed = false;
  private _statusTicket = 0;
  private _contractTicket = 0;
  private _timings: IHandoverTimings;
  private _statusPoll: Poll;
  private _debouncer: Debouncer;
  private _verify: VerifyJobs;
  private _history: HistoryActions;
  private _state: IHandoverState = INITIAL_STATE;
  private _stateChanged = new Signal<this, Readonly<IHandoverState>>(this);
}
