import { Notebook, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import type { Kernel } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import type {
  IHandoverNotebook,
  ITaggedCell,
  KernelPhase,
  NotebookChange
} from './state';
import { firstLine, hasMarker, readTags } from './tags';

/**
 * A notebook panel as the model sees it: its tagged cells, its kernel, and one signal
 * for everything that happens to them (including the user's executions in it).
 */
export class NotebookHandle implements IHandoverNotebook {
  constructor(private _panel: NotebookPanel) {
    const { context, content, sessionContext } = _panel;
    context.pathChanged.connect(this._onCells, this);
    context.model.contentChanged.connect(this._onCells, this);
    content.activeCellChanged.connect(this._onCells, this);
    sessionContext.statusChanged.connect(this._onKernelStatus, this);
    sessionContext.kernelChanged.connect(this._onKernel, this);
    _panel.disposed.connect(this._onDisposed, this);
    NotebookActions.executed.connect(this._onExecuted, this);
  }

  get changed(): ISignal<IHandoverNotebook, NotebookChange> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  get path(): string {
    return this._panel.context.path;
  }

  get ready(): Promise<void> {
    return this._panel.context.ready;
  }

  get kernelReady(): Promise<void> {
    return this._panel.sessionContext.ready;
  }

  get kernel(): Kernel.IKernelConnection | null {
    if (this._panel.isDisposed) {
      return null;
    }
    return this._panel.sessionContext.session?.kernel ?? null;
  }

  get kernelPhase(): KernelPhase {
    if (this._panel.isDisposed) {
      return 'none';
    }
    const context = this._panel.sessionContext;
    const status = context.kernelDisplayStatus;
    if (!context.session?.kernel) {
      return context.isReady || context.hasNoKernel ? 'none' : 'starting';
    }
    if (status === 'idle' || status === 'busy') {
      return status;
    }
    if (status === 'dead' || status === 'unknown') {
      return 'dead';
    }
    return 'starting';
  }

  taggedCells(tag: string): ITaggedCell[] {
    const tagged: ITaggedCell[] = [];
    if (this._panel.isDisposed) {
      return tagged;
    }
    const cells = this._panel.context.model.cells;
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
    return tagged;
  }

  activeCellTagged(tag: string): boolean {
    const active = this._panel.isDisposed
      ? null
      : this._panel.content.activeCell;
    return active
      ? readTags(active.model.getMetadata('tags')).includes(tag)
      : false;
  }

  async save(): Promise<void> {
    await this._panel.context.save();
  }

  jumpToCell(index: number): void {
    const notebook = this._panel.content;
    if (index < 0 || index >= notebook.widgets.length) {
      return;
    }
    notebook.activeCellIndex = index;
    notebook.mode = 'command';
    void notebook.scrollToCell(notebook.widgets[index], 'center');
    notebook.activate();
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    const { context, content, sessionContext } = this._panel;
    context.pathChanged.disconnect(this._onCells, this);
    context.model?.contentChanged.disconnect(this._onCells, this);
    content.activeCellChanged.disconnect(this._onCells, this);
    sessionContext.statusChanged.disconnect(this._onKernelStatus, this);
    sessionContext.kernelChanged.disconnect(this._onKernel, this);
    this._panel.disposed.disconnect(this._onDisposed, this);
    NotebookActions.executed.disconnect(this._onExecuted, this);
    Signal.clearData(this);
  }

  private _onCells(): void {
    this._changed.emit('cells');
  }

  private _onKernelStatus(): void {
    this._changed.emit('kernel-status');
  }

  private _onKernel(): void {
    this._changed.emit('kernel');
  }

  private _onExecuted(_: unknown, args: { notebook: Notebook }): void {
    if (args.notebook === this._panel.content) {
      this._changed.emit('executed');
    }
  }

  private _onDisposed(): void {
    this._changed.emit('disposed');
  }

  private _isDisposed = false;
  private _changed = new Signal<IHandoverNotebook, NotebookChange>(this);
}
