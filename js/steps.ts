/**
 * Pure helpers for the package progress: the magic defines the steps and reports them in
 * its JSON; the panel adds its own first step (saving the notebook).
 */
import type { IPackageStep, Phase } from './state';
import type { IStepDef } from './types';

/** The panel's own step before the kernel's: saving the notebook. */
export const SAVE_STEP: IStepDef = { id: 'save', label: 'save' };

/** How a step of the list looks. */
export type StepState = 'done' | 'current' | 'failed' | 'todo';

/** One row of the step list. */
export interface IStepRow {
  id: string;
  label: string;
  state: StepState;
  /** Seconds the step took on the panel's clock, when known. */
  seconds: number | null;
}

/**
 * The steps of a progress message or a result, as `{id, label}` (a bare string is both).
 */
export function normalizeSteps(steps: unknown): IStepDef[] {
  if (!Array.isArray(steps)) {
    return [];
  }
  const out: IStepDef[] = [];
  for (const step of steps) {
    if (typeof step === 'string') {
      out.push({ id: step, label: step });
    } else if (step && typeof (step as IStepDef).id === 'string') {
      const { id, label } = step as IStepDef;
      out.push({ id, label: typeof label === 'string' ? label : id });
    }
  }
  return out;
}

/**
 * Whether two step lists are the same (so the state keeps the old one).
 */
export function sameSteps(a: IStepDef[], b: IStepDef[]): boolean {
  return (
    a.length === b.length &&
    a.every((step, i) => step.id === b[i].id && step.label === b[i].label)
  );
}

/**
 * The reached steps with `step` added (at `at`), unless it was already reached.
 */
export function reachStep(
  reached: IPackageStep[],
  step: string,
  at: number
): IPackageStep[] {
  if (reached.some(r => r.step === step)) {
    return reached;
  }
  return [...reached, { step, at }];
}

/**
 * The rows of the step list: done ones with their duration, the current one, those to
 * come. A finished run shows every step done; a failed one marks the last step reached.
 */
export function stepRows(
  plan: IStepDef[],
  reached: IPackageStep[],
  phase: Phase,
  endedAt: number | null
): IStepRow[] {
  const defs = [SAVE_STEP, ...plan.filter(def => def.id !== SAVE_STEP.id)];
  for (const r of reached) {
    if (!defs.some(def => def.id === r.step)) {
      defs.push({ id: r.step, label: r.step });
    }
  }
  const last = reached.length > 0 ? reached[reached.length - 1].step : null;
  const lastIndex = defs.findIndex(def => def.id === last);
  return defs.map((def, i) => {
    let state: StepState = 'todo';
    if (phase === 'done' || i < lastIndex) {
      state = 'done';
    } else if (i === lastIndex) {
      state =
        phase === 'running'
          ? 'current'
          : phase === 'failed'
            ? 'failed'
            : 'done';
    }
    const at = reached.findIndex(r => r.step === def.id);
    let seconds: number | null = null;
    if (at >= 0 && state !== 'current') {
      const end = at + 1 < reached.length ? reached[at + 1].at : endedAt;
      if (end !== null) {
        seconds = (end - reached[at].at) / 1000;
      }
    }
    return { id: def.id, label: def.label, state, seconds };
  });
}
