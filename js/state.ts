/**
 * The sidebar's state and the two seams the model talks through: the followed notebook
 * (`IHandoverNotebook`) and the outside world (`IHandoverServices`). Types only, so the
 * model imports no JupyterLab runtime and its tests need no server.
 */
import type { Kernel } from '@jupyterlab/services';
import type { IDisposable } from '@lumino/disposable';
import type { ISignal } from '@lumino/signaling';

import type { SilentExecutor } from './kernel';
import type {
  IContract,
  IHistory,
  IKernelStatus,
  IPackageResult,
  IServerConfig,
  IStepDef,
  IVerifyJob
} from './types';

/**
 * A step of `%handover package` that the panel saw start, on the panel's clock (ms).
 */
export interface IPackageStep {
  step: string;
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
  /** How many status answers arrived (tests wait for the next one). */
  statusCount: number;
  /** The pickers. */
  model: string | null;
  train: string | null;
  target: string | null;
  contract: IContract | null;
  contractLoading: boolean;
  contractError: string | null;
  packagePhase: Phase;
  /** The magic's steps, from its first progress display (or its result). */
  packagePlan: IStepDef[];
  /** Steps seen starting so far, the panel's own `save` first. */
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
  /** A promote or rollback is on its way to the server. */
  releaseBusy: boolean;
  releaseError: string | null;
  /** What the last promote or rollback moved. */
  releaseMessage: string | null;
  /** The server extension's configuration, `null` until fetched. */
  server: IServerConfig | null;
  settings: IHandoverSettings;
  /** Why the server configuration could not be fetched, if it could not. */
  error: string | null;
}

/** A key of the state. */
export type HandoverStateKey = keyof IHandoverState;

export const INITIAL_STATE: Readonly<IHandoverState> = {
  notebookPath: null,
  tagName: 'handover',
  taggedCells: [],
  activeCellTagged: false,
  kernel: 'none',
  status: null,
  statusLoading: false,
  statusError: null,
  statusMs: null,
  statusCount: 0,
  model: null,
  train: null,
  target: null,
  contract: null,
  contractLoading: false,
  contractError: null,
  packagePhase: 'idle',
  packagePlan: [],
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
  releaseBusy: false,
  releaseError: null,
  releaseMessage: null,
  server: null,
  settings: {
    trackingUri: '',
    experiment: '',
    examples: 20,
    trackingUiUrl: ''
  },
  error: null
};

/** What was reset when the followed notebook (or its kernel) changes. */
export const NOTEBOOK_RESET: Partial<IHandoverState> = {
  status: null,
  statusError: null,
  statusMs: null,
  model: null,
  train: null,
  target: null,
  contract: null,
  contractError: null,
  packagePhase: 'idle',
  packagePlan: [],
  packageSteps: [],
  packageResult: null,
  packageError: null,
  verifyPhase: 'idle',
  verifyJob: null,
  verifyError: null,
  history: null,
  historyError: null,
  releaseError: null,
  releaseMessage: null
};

/** What was reset when the notebook's kernel changes. */
export const KERNEL_RESET: Partial<IHandoverState> = {
  status: null,
  statusError: null,
  contract: null,
  packageResult: null
};

/** What happened to the followed notebook. */
export type NotebookChange =
  'cells' | 'kernel-status' | 'kernel' | 'executed' | 'disposed';

/**
 * The notebook the model follows: its document, its kernel and what happens to them.
 */
export interface IHandoverNotebook extends IDisposable {
  /** Path relative to the server root. */
  readonly path: string;
  /** The kernel connection, `null` when no kernel runs. */
  readonly kernel: Kernel.IKernelConnection | null;
  readonly kernelPhase: KernelPhase;
  /** Resolves when the document is loaded. */
  readonly ready: Promise<void>;
  /** Resolves when the kernel session is ready. */
  readonly kernelReady: Promise<void>;
  readonly changed: ISignal<IHandoverNotebook, NotebookChange>;
  /** The code cells that carry `tag` (metadata or `# tag` marker). */
  taggedCells(tag: string): ITaggedCell[];
  /** Whether the active cell carries `tag` in its metadata. */
  activeCellTagged(tag: string): boolean;
  save(): Promise<void>;
  /** Make cell `index` the active one and scroll it into view. */
  jumpToCell(index: number): void;
}

/**
 * How the model reaches the server extension and the kernel (tests inject fakes).
 */
export interface IHandoverServices {
  /** `requestAPI` of `request.ts`: JSON from the server extension. */
  request<T>(endPoint: string, init?: RequestInit): Promise<T>;
  /** `executeSilently` of `kernel.ts`. */
  execute: SilentExecutor;
}

/**
 * Timings of the model (ms); tests shorten them.
 */
export interface IHandoverTimings {
  /** Quiet time after a user's execution before the kernel is asked again. */
  refreshDelay: number;
  /** How often the kernel is asked while the panel is shown and the kernel idle. */
  statusInterval: number;
  /** How often a running verify job is polled. */
  verifyInterval: number;
}

export const DEFAULT_TIMINGS: IHandoverTimings = {
  refreshDelay: 400,
  statusInterval: 30_000,
  verifyInterval: 1000
};
