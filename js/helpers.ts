/**
 * Pure helpers of the model: what the pickers choose, the package command line, the run
 * link. They take plain values and return new ones.
 */
import type { IHandoverState, ITaggedCell } from './state';
import type { IKernelStatus, IPackageResult } from './types';

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

/** What the pickers show after a status answer. */
export interface ISelection {
  model: string | null;
  train: string | null;
  /** Whether the status' own contract preview matches the selection. */
  useStatusContract: boolean;
}

/**
 * Keep the user's model and frame when the kernel still has them, else take the ones
 * `package` would pick by itself (else the first).
 */
export function pickSelection(
  status: IKernelStatus,
  current: { model: string | null; train: string | null; target: string | null }
): ISelection {
  const models = Object.keys(status.models);
  let model = current.model;
  if (!model || !models.includes(model)) {
    model = status.default.model ?? models[0] ?? null;
  }
  const frames = (model && status.frames[model]) || [];
  let train = current.train;
  if (!train || !frames.includes(train)) {
    train =
      status.default.model === model && status.default.train
        ? status.default.train
        : (frames[0] ?? null);
  }
  const useStatusContract =
    !!status.contract && train === status.default.train && !current.target;
  return { model, train, useStatusContract };
}

/**
 * The state change of the pickers after a status answer, and whether the chosen frame
 * needs its own contract query (the status previews only the default frame's).
 */
export function selectionChange(
  status: IKernelStatus,
  state: Readonly<IHandoverState>
): { change: Partial<IHandoverState>; needsContract: boolean } {
  const { model, train, useStatusContract } = pickSelection(status, state);
  const change: Partial<IHandoverState> = { model, train };
  if (!train) {
    change.contract = null;
  } else if (useStatusContract) {
    change.contract = status.contract;
    change.contractError = null;
  }
  return { change, needsContract: !!train && !useStatusContract };
}

/**
 * The frame to keep when the model changes: the current one if the new model fits it.
 */
export function trainFor(
  status: IKernelStatus | null,
  model: string | null,
  train: string | null
): string | null {
  const frames = (model && status?.frames[model]) || [];
  return train && frames.includes(train) ? train : (frames[0] ?? null);
}

/**
 * The target to keep when the frame changes: the current one if the frame has it.
 */
export function targetFor(
  status: IKernelStatus | null,
  train: string | null,
  target: string | null
): string | null {
  const columns = (train && status?.columns[train]) || [];
  return target && columns.includes(target) ? target : null;
}

/**
 * The arguments of `%handover package --json` for the panel's choices and settings.
 */
export function packageArgs(
  state: Readonly<IHandoverState>,
  notebook: string | null
): string[] {
  const args = ['package', '--json', '--tag', state.tagName];
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
  return args;
}

/**
 * Whether two lists of tagged cells show the same (so the state keeps the old list).
 */
export function sameCells(a: ITaggedCell[], b: ITaggedCell[]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (cell, i) =>
        cell.index === b[i].index &&
        cell.executionCount === b[i].executionCount &&
        cell.firstLine === b[i].firstLine
    )
  );
}
