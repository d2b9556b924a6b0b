/**
 * Fakes for the model's two seams: a notebook and the kernel/server calls.
 */
import type { Kernel } from '@jupyterlab/services';
import { Signal } from '@lumino/signaling';

import type { SilentExecutor } from '../kernel';
import type { HandoverModel } from '../model';
import type {
  IHandoverNotebook,
  IHandoverServices,
  IHandoverState,
  ITaggedCell,
  KernelPhase,
  NotebookChange
} from '../state';
import type {
  IContract,
  IKernelStatus,
  IPackageProgress,
  IPackageResult,
  IStepDef
} from '../types';

export const STEPS: IStepDef[] = [
  'export',
  'contract',
  'model',
  'environment',
  'lock',
  'examples',
  'log'
].map(id => ({ id, label: id }));

export const CONTRACT: IContract = {
  columns: [{ name: 'tenure', dtype: 'int64', min: 0, max: 72 }],
  rows: 100
};

export function makeStatus(): IKernelStatus {
  return {
    models: { model: 'Pipeline', other: 'LogisticRegression' },
    frames: { model: ['X_train', 'X_all'], other: ['X_all'] },
    columns: { X_train: ['tenure', 'churn'], X_all: ['tenure'] },
    default: { model: 'model', train: 'X_train', error: null },
    contract: CONTRACT,
    notebook: '/root/demo.ipynb',
    cells: [],
    problems: [],
    warnings: []
  };
}

/** The progress displays of a package run over `STEPS`. */
export function progressMessages(): IPackageProgress[] {
  return STEPS.map((step, index) => ({
    type: 'progress',
    steps: STEPS,
    step: step.id,
    index,
    total: STEPS.length
  }));
}

/** A notebook whose cells, kernel and events the test sets. */
export class FakeNotebook implements IHandoverNotebook {
  path = 'demo.ipynb';
  kernel: Kernel.IKernelConnection | null = {
    id: 'k1'
  } as unknown as Kernel.IKernelConnection;
  kernelPhase: KernelPhase = 'idle';
  ready = Promise.resolve();
  kernelReady = Promise.resolve();
  cells: ITaggedCell[] = [
    { index: 2, executionCount: 3, firstLine: 'def preprocess(df):' }
  ];
  activeTagged = false;
  saved = 0;
  jumped: number[] = [];
  isDisposed = false;
  readonly changed: Signal<IHandoverNotebook, NotebookChange> = new Signal<
    IHandoverNotebook,
    NotebookChange
  >(this);

  taggedCells(): ITaggedCell[] {
    return this.cells.map(cell => ({ ...cell }));
  }

  activeCellTagged(): boolean {
    return this.activeTagged;
  }

  async save(): Promise<void> {
    this.saved += 1;
  }

  jumpToCell(index: number): void {
    this.jumped.push(index);
  }

  dispose(): void {
    this.isDisposed = true;
  }

  emit(change: NotebookChange): void {
    this.changed.emit(change);
  }
}

/** The `%handover` arguments in the code the panel runs. */
export function magicArgs(code: string): string[] {
  const match = /run_line_magic\('handover', (".*")\)/.exec(code);
  if (!match) {
    throw new Error(`not a %handover call: ${code}`);
  }
  return (JSON.parse(match[1]) as string).split(' ');
}

/**
 * A kernel that answers `status`, `contract` and `package`, and a server that answers
 * from a table of end points; both record their calls.
 */
export class FakeBackend implements IHandoverServices {
  calls: string[][] = [];
  requests: { endPoint: string; init?: RequestInit }[] = [];
  status: IKernelStatus | null = makeStatus();
  error: string | null = null;
  progress: IPackageProgress[] = progressMessages();
  /** Milliseconds (of the fake clock) each package step takes. */
  stepMs = 100;
  packageResult: IPackageResult | null = {
    status: 'logged',
    model_uri: 'models:/churn/1',
    run_id: 'r1',
    experiment_id: '1',
    tracking_uri: 'sqlite:///mlflow.db',
    steps: STEPS
  };
  answers: Record<string, unknown[]> = {};

  execute: SilentExecutor = async <T>(
    _kernel: Kernel.IKernelConnection,
    code: string,
    onProgress?: (progress: IPackageProgress) => void
  ) => {
    const args = magicArgs(code);
    this.calls.push(args);
    let data: unknown = null;
    if (args[0] === 'status') {
      // a fresh object each time, like JSON from the kernel
      data = this.status && JSON.parse(JSON.stringify(this.status));
    } else if (args[0] === 'contract') {
      data = { ...CONTRACT, rows: args.includes('--target') ? 99 : 100 };
    } else if (args[0] === 'package') {
      for (const message of this.progress) {
        onProgress?.(message);
        await new Promise(resolve => setTimeout(resolve, this.stepMs));
      }
      data = this.packageResult;
    }
    return { data: data as T | null, error: this.error, elapsed: 12 };
  };

  async request<T>(endPoint: string, init?: RequestInit): Promise<T> {
    this.requests.push({ endPoint, init });
    const key = Object.keys(this.answers).find(k => endPoint.startsWith(k));
    const queue = key ? this.answers[key] : undefined;
    if (!queue || queue.length === 0) {
      throw new Error(`no answer for ${endPoint}`);
    }
    const answer = queue.length > 1 ? queue.shift() : queue[0];
    if (answer instanceof Error) {
      throw answer;
    }
    return answer as T;
  }

  /** The kernel calls of one subcommand. */
  callsOf(subcommand: string): string[][] {
    return this.calls.filter(args => args[0] === subcommand);
  }
}

/** Resolves once the model's state satisfies `test` (at once if it already does). */
export function until(
  model: HandoverModel,
  test: (state: Readonly<IHandoverState>) => boolean
): Promise<Readonly<IHandoverState>> {
  return new Promise(resolve => {
    if (test(model.state)) {
      resolve(model.state);
      return;
    }
    const check = (_: unknown, state: Readonly<IHandoverState>): void => {
      if (test(state)) {
        model.stateChanged.disconnect(check);
        resolve(state);
      }
    };
    model.stateChanged.connect(check);
  });
}
