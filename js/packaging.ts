/**
 * `%handover package` from the panel: save the notebook, run the magic silently, follow
 * its progress display, keep its result.
 */
import type { Kernel } from '@jupyterlab/services';

import { packageArgs } from './helpers';
import { handoverCode } from './kernel';
import { statusCode } from './queries';
import type {
  IHandoverNotebook,
  IHandoverServices,
  IHandoverState
} from './state';
import { normalizeSteps, reachStep, SAVE_STEP, sameSteps } from './steps';
import type { IKernelStatus, IPackageProgress, IPackageResult } from './types';

/** The model as a packaging run sees it: its current state, and how to change it. */
export interface IStateHolder {
  read(): Readonly<IHandoverState>;
  update(change: Partial<IHandoverState>): void;
}

/**
 * Package the notebook in its kernel; the state tells the progress and the outcome.
 */
export async function runPackage(
  holder: IStateHolder,
  services: IHandoverServices,
  notebook: IHandoverNotebook,
  kernel: Kernel.IKernelConnection
): Promise<void> {
  holder.update({
    packagePhase: 'running',
    packagePlan: [],
    packageSteps: [{ step: SAVE_STEP.id, at: performance.now() }],
    packageEndedAt: null,
    packageResult: null,
    packageError: null,
    verifyPhase: 'idle',
    verifyJob: null,
    verifyError: null
  });
  try {
    await notebook.save();
    const path =
      holder.read().status?.notebook ??
      (await notebookInKernel(services, kernel, holder.read().tagName));
    const result = await services.execute<IPackageResult>(
      kernel,
      handoverCode(packageArgs(holder.read(), path)),
      progress => holder.update(progressChange(holder.read(), progress))
    );
    holder.update(endChange(holder.read(), result.data, result.error));
  } catch (reason) {
    holder.update(endChange(holder.read(), null, String(reason)));
  }
}

/**
 * The state change for a progress display: the step list (kept when unchanged) and the
 * step that started.
 */
export function progressChange(
  state: Readonly<IHandoverState>,
  progress: IPackageProgress
): Partial<IHandoverState> {
  if (state.packagePhase !== 'running') {
    return {};
  }
  const plan = normalizeSteps(progress.steps);
  const step = progress.step ?? plan[progress.index]?.id;
  return {
    packagePlan: sameSteps(plan, state.packagePlan) ? state.packagePlan : plan,
    packageSteps: step
      ? reachStep(state.packageSteps, step, performance.now())
      : state.packageSteps
  };
}

/**
 * The state change when the magic answered (or failed): the result ends the run, and its
 * `steps` fill the list when no progress display came.
 */
export function endChange(
  state: Readonly<IHandoverState>,
  data: IPackageResult | null,
  error: string | null
): Partial<IHandoverState> {
  const failed = !!error || !data || data.status === 'failed';
  const plan = normalizeSteps(data?.steps);
  return {
    packageEndedAt: performance.now(),
    packagePlan:
      state.packagePlan.length === 0 && plan.length > 0
        ? plan
        : state.packagePlan,
    packagePhase: failed ? 'failed' : 'done',
    packageResult: data,
    packageError: failed
      ? (error ?? data?.error ?? 'the kernel answered without a result')
      : null
  };
}

/** The notebook path as the kernel knows it (when no status answered yet). */
async function notebookInKernel(
  services: IHandoverServices,
  kernel: Kernel.IKernelConnection,
  tag: string
): Promise<string | null> {
  const result = await services.execute<IKernelStatus>(kernel, statusCode(tag));
  return result.data?.notebook ?? null;
}
