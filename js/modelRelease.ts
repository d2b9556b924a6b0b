/**
 * The History section's actions, owned by the model: read the notebook's earlier
 * handovers, promote a version whose verify and shadow passed, roll an alias back. Each
 * server answer becomes state; errors too, never exceptions.
 */
import type { IStateHolder } from './packaging';
import { queryHistory } from './queries';
import type { IHandoverServices } from './state';
import type { IAliasMoveAnswer, IHistoryRun } from './types';

/** The alias the panel promotes to. */
export const RELEASE_ALIAS = 'champion';

/** Aliases named `<alias>-previous` keep a former holder reachable; they are not rolled back. */
const PREVIOUS_SUFFIX = '-previous';

export type ReleaseAction = 'promote' | 'rollback';

/**
 * Whether the panel offers Promote for a version: verify and shadow both passed, and it
 * does not already hold the alias.
 */
export function canPromote(run: IHistoryRun, alias = RELEASE_ALIAS): boolean {
  return (
    !!run.model_uri &&
    run.verified === 'passed' &&
    run.shadow === 'passed' &&
    !(run.aliases ?? []).includes(alias)
  );
}

/** The aliases a version holds that a Roll back action can move back. */
export function rollbackAliases(run: IHistoryRun): string[] {
  return (run.aliases ?? []).filter(alias => !alias.endsWith(PREVIOUS_SUFFIX));
}

/** One line about a move the server made. */
export function moveText(answer: IAliasMoveAnswer, alias: string): string {
  const move = answer.move;
  if (!move) {
    return `already @${alias}: nothing moved`;
  }
  const from = move.from_version ? ` (was v${move.from_version})` : '';
  const verb = move.kind === 'rollback' ? 'rolled back' : 'promoted';
  return `${move.name}@${move.alias} ${verb} to v${move.to_version}${from}`;
}

/**
 * History reads and release actions over the server extension.
 */
export class HistoryActions {
  constructor(
    private _services: IHandoverServices,
    private _holder: IStateHolder
  ) {}

  /** Read this notebook's earlier handovers from MLflow. */
  async refresh(): Promise<void> {
    const path = this._holder.read().notebookPath;
    if (!path) {
      return;
    }
    this._holder.update({ historyLoading: true });
    const state = this._holder.read();
    const change = await queryHistory(
      this._services,
      path,
      state.settings.trackingUri
    );
    if (path === this._holder.read().notebookPath) {
      this._holder.update(change);
    }
  }

  /**
   * Promote `run`'s version to `alias` (with the shadow gate) or roll `alias` back from
   * it; then read the history again.
   */
  async release(
    action: ReleaseAction,
    run: IHistoryRun,
    alias = RELEASE_ALIAS
  ): Promise<void> {
    const state = this._holder.read();
    if (state.releaseBusy || !run.name || !state.notebookPath) {
      return;
    }
    const target =
      action === 'promote' ? { model_uri: run.model_uri } : { name: run.name };
    const body = {
      ...target,
      alias,
      path: state.notebookPath,
      ...(state.settings.trackingUri
        ? { tracking_uri: state.settings.trackingUri }
        : {})
    };
    this._holder.update({
      releaseBusy: true,
      releaseError: null,
      releaseMessage: null
    });
    try {
      const answer = await this._services.request<IAliasMoveAnswer>(action, {
        method: 'POST',
        body: JSON.stringify(body)
      });
      this._holder.update({
        releaseBusy: false,
        releaseMessage: moveText(answer, alias)
      });
    } catch (reason) {
      this._holder.update({ releaseBusy: false, releaseError: String(reason) });
    }
    await this.refresh();
  }
}
