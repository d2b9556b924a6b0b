import { NotebookPanel } from '@jupyterlab/notebook';
import { ISignal, Signal } from '@lumino/signaling';

import { requestAPI } from './request';
import { countTagged } from './tags';

/**
 * What `GET /jupyter-handover/config` answers.
 */
export interface IServerConfig {
  version: string;
  tag: string;
  tracking_uri: string;
}

/**
 * The state that the sidebar shows.
 */
export interface IHandoverState {
  /** Path of the active notebook, `null` when no notebook is open. */
  notebookPath: string | null;
  /** Tag that marks inference cells. */
  tagName: string;
  /** Number of cells of the active notebook that carry `tagName`. */
  taggedCells: number;
  /** The server extension's configuration, `null` until fetched. */
  server: IServerConfig | null;
  /** Tracking URI from the user settings; empty means the server's. */
  trackingUri: string;
  /** Why the server configuration could not be fetched, if it could not. */
  error: string | null;
}

/**
 * Holds the sidebar state, follows the active notebook and emits
 * `stateChanged`; views render it and fetch nothing.
 */
export class HandoverModel {
  get state(): Readonly<IHandoverState> {
    return this._state;
  }

  get stateChanged(): ISignal<this, Readonly<IHandoverState>> {
    return this._stateChanged;
  }

  /**
   * Follow another notebook panel (or none).
   */
  setNotebook(panel: NotebookPanel | null): void {
    if (this._panel) {
      this._panel.context.pathChanged.disconnect(this._onNotebookChanged, this);
      this._panel.context.model.contentChanged.disconnect(
        this._onNotebookChanged,
        this
      );
      this._panel.disposed.disconnect(this._onPanelDisposed, this);
    }
    this._panel = panel;
    if (panel) {
      panel.context.pathChanged.connect(this._onNotebookChanged, this);
      panel.context.model.contentChanged.connect(this._onNotebookChanged, this);
      panel.disposed.connect(this._onPanelDisposed, this);
      void panel.context.ready.then(() => {
        if (this._panel === panel) {
          this.refresh();
        }
      });
    }
    this.refresh();
  }

  /**
   * Change the tag that marks inference cells.
   */
  setTagName(tagName: string): void {
    this._update({ tagName });
    this.refresh();
  }

  /**
   * Change the tracking URI taken from the user settings.
   */
  setTrackingUri(trackingUri: string): void {
    this._update({ trackingUri });
  }

  /**
   * Recount the tagged cells of the active notebook.
   */
  refresh(): void {
    const panel = this._panel;
    if (!panel || panel.isDisposed) {
      this._update({ notebookPath: null, taggedCells: 0 });
      return;
    }
    const tagValues: unknown[] = [];
    const cells = panel.context.model.cells;
    for (let i = 0; i < cells.length; i++) {
      tagValues.push(cells.get(i).getMetadata('tags'));
    }
    this._update({
      notebookPath: panel.context.path,
      taggedCells: countTagged(tagValues, this._state.tagName)
    });
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

  private _onNotebookChanged(): void {
    this.refresh();
  }

  private _onPanelDisposed(): void {
    this.setNotebook(null);
  }

  private _update(change: Partial<IHandoverState>): void {
    const next = { ...this._state, ...change };
    const changed = (Object.keys(change) as (keyof IHandoverState)[]).some(
      key => next[key] !== this._state[key]
    );
    if (changed) {
      this._state = next;
      this._stateChanged.emit(next);
    }
  }

  private _panel: NotebookPanel | null = null;
  private _state: IHandoverState = {
    notebookPath: null,
    tagName: 'handover',
    taggedCells: 0,
    server: null,
    trackingUri: '',
    error: null
  };
  private _stateChanged = new Signal<this, Readonly<IHandoverState>>(this);
}
