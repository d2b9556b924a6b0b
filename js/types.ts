/**
 * Shapes of what the kernel (`%handover ... --json`) and the server extension answer.
 */

/** `GET /jupyter-handover/config`. */
export interface IServerConfig {
  version: string;
  tag: string;
  tracking_uri: string;
  ui_url: string | null;
}

/** A cell reference as the export check gives it. */
export interface ICellRef {
  index: number;
  execution_count: number | null;
  first_line: string;
}

/** One blocking problem of the exported code (`ExportProblem`). */
export interface IExportProblem {
  kind: string;
  name: string | null;
  message: string;
  defined_in?: ICellRef[];
  cell?: ICellRef | null;
  line?: number | null;
}

/** One column of the data contract (`contract.json`). */
export interface IContractColumn {
  name: string;
  dtype: string;
  nullable?: boolean;
  null_fraction?: number;
  min?: number | string | null;
  max?: number | string | null;
  categories?: unknown[] | null;
  baseline?: {
    histogram?: { counts?: number[]; edges?: number[] };
    frequencies?: Record<string, number>;
  } | null;
}

/** The data contract, as far as the panel reads it. */
export interface IContract {
  columns: IContractColumn[];
  rows?: number;
  [key: string]: unknown;
}

/** What the environment section shows. */
export interface IEnvironmentSummary {
  python: string;
  requirements: Record<string, string> | null;
  requirements_error?: string;
  lock_tool: string | null;
  lock: string;
  lock_message: string | null;
}

/** `%handover status --json`. */
export interface IKernelStatus {
  models: Record<string, string>;
  frames: Record<string, string[]>;
  columns: Record<string, string[]>;
  default: { model: string | null; train: string | null; error: string | null };
  contract: IContract | null;
  notebook: string | null;
  cells: ICellRef[];
  problems: string[];
  problem_details?: IExportProblem[];
  warnings: string[];
  environment?: IEnvironmentSummary;
}

/** One step of `%handover package`, as the magic defines it. */
export interface IStepDef {
  id: string;
  label: string;
}

/**
 * The progress display of `%handover package --json` (one display, updated at each step).
 */
export interface IPackageProgress {
  type: 'progress';
  steps: IStepDef[];
  /** Id of the step that started. */
  step: string;
  /** 0-based position of `step` in `steps`. */
  index: number;
  total: number;
}

/** `%handover package --json`. */
export interface IPackageResult {
  status: string;
  /** The magic's steps (newer magics): the panel's step list when no progress came. */
  steps?: IStepDef[];
  artifact_path?: string;
  name?: string;
  model?: string;
  train?: string;
  model_uri?: string;
  run_id?: string;
  experiment_id?: string;
  tracking_uri?: string;
  version?: string;
  lock_hashes?: boolean;
  lock_message?: string;
  warnings?: string[];
  error?: string;
}

/** One step of a verify job. */
export interface IJobStep {
  step: string;
  message: string;
  seconds: number;
}

/** `GET /jupyter-handover/verify/<id>`. */
export interface IVerifyJob {
  id: string;
  model_ref: string;
  state: 'queued' | 'running' | 'passed' | 'failed' | 'error' | 'cancelled';
  steps: IJobStep[];
  report: {
    passed: boolean;
    problems: string[];
    rows: number;
    mismatches: unknown[];
    seconds: Record<string, number>;
    failed_step: string | null;
  } | null;
  error: string | null;
  seconds: number;
}

/** One earlier handover of the notebook. */
export interface IHistoryRun {
  run_id: string;
  experiment_id: string;
  created: string | null;
  verified: string;
  name: string | null;
  version: string | null;
  model_uri: string | null;
  run_url: string | null;
  /** `passed`, `failed` or `not-run`: the latest shadow of this version. */
  shadow: string;
  /** The exact version the latest shadow compared with (`models:/NAME/VERSION`). */
  shadow_against: string | null;
  /** The registry aliases this version holds. */
  aliases: string[];
}

/** One recorded move of a registry alias. */
export interface IAliasMove {
  kind: 'promote' | 'rollback';
  name: string;
  alias: string;
  from_version: string | null;
  to_version: string;
  who: string;
  at: string;
  why: string;
}

/** `POST /jupyter-handover/promote` and `/rollback`. */
export interface IAliasMoveAnswer {
  moved: boolean;
  move: IAliasMove | null;
}

/** `GET /jupyter-handover/history`. */
export interface IHistory {
  tracking_uri: string;
  ui_url: string | null;
  runs: IHistoryRun[];
}
