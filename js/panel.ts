import { SidePanel } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { Message } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';

import { handoverIcon } from './icon';
import {
  HandoverModel,
  HandoverStateKey,
  IContractColumn,
  IHandoverState,
  PACKAGE_STEPS,
  runLink
} from './model';

/**
 * Id of the sidebar widget (its tab is `li[data-id="jupyter-handover-panel"]`).
 */
export const PANEL_ID = 'jupyter-handover-panel';

type Attrs = Record<string, string | undefined>;

/**
 * A DOM element with a class, attributes and children (strings become text).
 */
function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Node | string | null)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined) {
      node.setAttribute(key, value);
    }
  }
  for (const child of children) {
    if (child !== null) {
      node.append(child);
    }
  }
  return node;
}

function button(
  label: string,
  testid: string,
  onClick: () => void,
  options: { disabled?: boolean; accept?: boolean; title?: string } = {}
): HTMLButtonElement {
  const node = h('button', {
    class: `jp-mod-styled ${options.accept ? 'jp-mod-accept' : ''} jp-HandoverPanel-button`,
    'data-testid': testid,
    title: options.title
  });
  node.textContent = label;
  node.disabled = options.disabled ?? false;
  node.onclick = onClick;
  return node;
}

function note(
  text: string,
  kind: 'hint' | 'error' | 'busy' = 'hint'
): HTMLElement {
  return h('p', { class: `jp-HandoverPanel-${kind}` }, text);
}

function select(
  testid: string,
  options: { value: string; label: string }[],
  value: string | null,
  onChange: (value: string | null) => void,
  empty?: string
): HTMLSelectElement {
  const node = h('select', {
    class: 'jp-HandoverPanel-select',
    'data-testid': testid
  });
  if (empty !== undefined) {
    node.append(h('option', { value: '' }, empty));
  }
  for (const option of options) {
    node.append(h('option', { value: option.value }, option.label));
  }
  node.value = value ?? '';
  node.onchange = () => onChange(node.value || null);
  return node;
}

/**
 * A tiny bar chart of a column's drift baseline (histogram counts or category frequencies).
 */
export function histogram(column: IContractColumn): SVGSVGElement | null {
  const base = column.baseline ?? {};
  let counts: number[] = [];
  if (base.histogram?.counts?.length) {
    counts = base.histogram.counts;
  } else if (base.frequencies) {
    counts = Object.values(base.frequencies).slice(0, 20);
  }
  if (counts.length === 0) {
    return null;
  }
  const ns = 'http://www.w3.org/2000/svg';
  const width = 64;
  const height = 16;
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('class', 'jp-HandoverPanel-hist');
  svg.setAttribute('role', 'img');
  const top = Math.max(...counts) || 1;
  const bar = width / counts.length;
  counts.forEach((count, i) => {
    const rect = document.createElementNS(ns, 'rect');
    const barHeight = (count / top) * height;
    rect.setAttribute('x', (i * bar).toFixed(1));
    rect.setAttribute('y', (height - barHeight).toFixed(1));
    rect.setAttribute('width', Math.max(bar - 1, 1).toFixed(1));
    rect.setAttribute('height', barHeight.toFixed(1));
    svg.append(rect);
  });
  return svg;
}

function columnDetail(column: IContractColumn): string {
  if (column.categories && column.categories.length > 0) {
    const cats = column.categories.map(String);
    return cats.slice(0, 4).join(', ') + (cats.length > 4 ? ', …' : '');
  }
  if (column.min !== undefined && column.min !== null) {
    const fmt = (v: unknown): string =>
      typeof v === 'number' ? String(Number(v.toPrecision(4))) : String(v);
    return `${fmt(column.min)} … ${fmt(column.max)}`;
  }
  return '';
}

/**
 * The packaging steps: done ones with their duration, the current one, those to come.
 */
function stepList(state: Readonly<IHandoverState>): HTMLElement {
  const running = state.packagePhase === 'running';
  const steps = state.packageSteps;
  const list = h('ol', {
    class: 'jp-HandoverPanel-steps',
    'data-testid': 'package-steps'
  });
  const names = ['save', ...PACKAGE_STEPS];
  const last = steps.length > 0 ? steps[steps.length - 1].step : null;
  const reached = last ? names.indexOf(last) : -1;
  names.forEach((name, i) => {
    const index = steps.findIndex(s => s.step === name);
    let cls = i <= reached || index >= 0 ? 'done' : 'todo';
    if (i === reached && running) {
      cls = 'current';
    } else if (i === reached && state.packagePhase === 'failed') {
      cls = 'failed';
    }
    const marks: Record<string, string> = {
      done: '●',
      current: '◐',
      failed: '✕',
      todo: '○'
    };
    let duration = '';
    if (index >= 0 && cls !== 'current') {
      const end =
        index + 1 < steps.length ? steps[index + 1].at : state.packageEndedAt;
      if (end !== null) {
        duration = ` ${((end - steps[index].at) / 1000).toFixed(1)} s`;
      }
    }
    list.append(
      h(
        'li',
        {
          class: `jp-HandoverPanel-step jp-mod-${cls}`,
          'data-testid': 'package-step',
          'data-step': name,
          'data-state': cls
        },
        `${marks[cls]} ${name}`,
        duration
          ? h('span', { class: 'jp-HandoverPanel-secs' }, duration)
          : null
      )
    );
  });
  return list;
}

/**
 * One section of the panel: re-rendered when one of its state keys changes.
 */
abstract class SectionView extends Widget {
  constructor(
    protected model: HandoverModel,
    private _title: string,
    testid: string,
    private _keys: HandoverStateKey[]
  ) {
    super();
    this.addClass('jp-HandoverPanel-section');
    this.node.dataset.testid = testid;
    this.model.stateChanged.connect(this._onState, this);
    this._render();
  }

  dispose(): void {
    this.model.stateChanged.disconnect(this._onState, this);
    super.dispose();
  }

  protected abstract body(state: Readonly<IHandoverState>): (Node | null)[];

  protected _render(): void {
    const state = this.model.state;
    this._last = state;
    this.node.textContent = '';
    this.node.append(h('h3', { class: 'jp-HandoverPanel-title' }, this._title));
    for (const child of this.body(state)) {
      if (child) {
        this.node.append(child);
      }
    }
  }

  private _onState(_: HandoverModel, state: Readonly<IHandoverState>): void {
    const last = this._last;
    if (!last || this._keys.some(key => last[key] !== state[key])) {
      this._render();
    }
  }

  private _last: Readonly<IHandoverState> | null = null;
}

/**
 * The notebook, the kernel and the server extension in one line each.
 */
class HeaderView extends SectionView {
  constructor(model: HandoverModel) {
    super(model, 'Notebook', 'handover-notebook', [
      'notebookPath',
      'kernel',
      'server',
      'error',
      'statusLoading',
      'statusMs'
    ]);
  }

  protected body(state: Readonly<IHandoverState>): (Node | null)[] {
    if (!state.notebookPath) {
      return [note('Open a notebook to hand over its model.')];
    }
    const kernelText: Record<string, string> = {
      none: 'no kernel: start one to fill the model and data pickers',
      starting: 'kernel starting…',
      idle: 'kernel idle',
      busy: 'kernel busy: the pickers refresh when it is idle',
      dead: 'kernel dead: restart it'
    };
    return [
      h(
        'p',
        { class: 'jp-HandoverPanel-path', 'data-testid': 'notebook-path' },
        state.notebookPath
      ),
      h(
        'p',
        {
          class: 'jp-HandoverPanel-hint',
          'data-testid': 'kernel-state',
          'data-status-ms':
            state.statusMs === null ? undefined : state.statusMs.toFixed(0)
        },
        kernelText[state.kernel] +
          (state.statusLoading ? ' · asking the kernel…' : '')
      ),
      state.error
        ? note(`Server extension unreachable: ${state.error}`, 'error')
        : null
    ];
  }
}

/**
 * Tagged cells, tag/untag of the active cell, export problems.
 */
class CellsView extends SectionView {
  constructor(
    model: HandoverModel,
    private _commands: CommandRegistry,
    private _tagCommand: string
  ) {
    super(model, 'Cells', 'handover-cells', [
      'taggedCells',
      'tagName',
      'activeCellTagged',
      'status',
      'notebookPath'
    ]);
    this._commands.commandChanged.connect(this._onCommand, this);
  }

  dispose(): void {
    this._commands.commandChanged.disconnect(this._onCommand, this);
    super.dispose();
  }

  protected body(state: Readonly<IHandoverState>): (Node | null)[] {
    if (!state.notebookPath) {
      return [note('No notebook open.')];
    }
    const out: (Node | null)[] = [];
    if (state.taggedCells.length === 0) {
      out.push(
        note(
          `No cell is tagged “${state.tagName}”. Tag the cells that inference needs (feature code, preprocess(df), postprocess): they are exported, in order, as inference.py.`
        )
      );
    } else {
      const list = h('ul', { class: 'jp-HandoverPanel-cells' });
      for (const cell of state.taggedCells) {
        const item = h(
          'li',
          {
            class: 'jp-HandoverPanel-cell',
            'data-testid': 'tagged-cell',
            title: 'Jump to this cell'
          },
          h(
            'span',
            { class: 'jp-HandoverPanel-prompt' },
            `[${cell.executionCount ?? ' '}]`
          ),
          h('code', {}, cell.firstLine || '(empty cell)')
        );
        item.onclick = () => this.model.jumpToCell(cell.index);
        list.append(item);
      }
      out.push(
        h(
          'p',
          { class: 'jp-HandoverPanel-hint', 'data-testid': 'tagged-count' },
          `${state.taggedCells.length} tagged`
        ),
        list
      );
    }
    out.push(
      button(
        state.activeCellTagged ? 'Untag active cell' : 'Tag active cell',
        'tag-toggle',
        () => void this._commands.execute(this._tagCommand),
        {
          disabled: !this._commands.isEnabled(this._tagCommand),
          title: this._commands.label(this._tagCommand)
        }
      )
    );
    const problems = state.status?.problem_details ?? [];
    if (problems.length > 0) {
      const list = h('ul', { class: 'jp-HandoverPanel-problems' });
      for (const problem of problems) {
        const item = h(
          'li',
          {
            class: 'jp-HandoverPanel-problem',
            'data-testid': 'export-problem'
          },
          problem.message
        );
        for (const ref of problem.defined_in ?? []) {
          const link = h(
            'a',
            {
              class: 'jp-HandoverPanel-link',
              'data-testid': 'problem-cell',
              href: '#'
            },
            `→ defined in [${ref.execution_count ?? ' '}] ${ref.first_line}`
          );
          link.onclick = event => {
            event.preventDefault();
            this.model.jumpToCell(ref.index);
          };
          item.append(h('br'), link);
        }
        if (problem.cell) {
          const cell = problem.cell;
          const link = h(
            'a',
            { class: 'jp-HandoverPanel-link', href: '#' },
            `→ in tagged cell [${cell.execution_count ?? ' '}]${problem.line ? ` line ${problem.line}` : ''}`
          );
          link.onclick = event => {
            event.preventDefault();
            this.model.jumpToCell(cell.index);
          };
          item.append(h('br'), link);
        }
        list.append(item);
      }
      out.push(
        h('h4', {}, 'Export problems (as of the last kernel query)'),
        list
      );
    }
    return out;
  }

  private _onCommand(
    _: CommandRegistry,
    change: CommandRegistry.ICommandChangedArgs
  ): void {
    if (change.id === this._tagCommand || change.type === 'many-changed') {
      this._render();
    }
  }
}

/**
 * The model, training frame and target pickers.
 */
class PickersView extends SectionView {
  constructor(model: HandoverModel) {
    super(model, 'Model and data', 'handover-model', [
      'status',
      'statusError',
      'model',
      'train',
      'target',
      'kernel',
      'notebookPath'
    ]);
  }

  protected body(state: Readonly<IHandoverState>): (Node | null)[] {
    if (!state.notebookPath) {
      return [];
    }
    if (state.kernel === 'none' || state.kernel === 'dead') {
      return [
        note(
          'No kernel: start the kernel and run the training cells; the fitted models and training frames are read from it.'
        )
      ];
    }
    if (state.statusError) {
      return [
        note(
          `The kernel could not say what would be packaged: ${state.statusError}`,
          'error'
        )
      ];
    }
    const status = state.status;
    if (!status) {
      return [
        note(
          'Asking the kernel (silently) for fitted models and training frames…',
          'busy'
        )
      ];
    }
    const models = Object.entries(status.models);
    if (models.length === 0) {
      return [
        note(
          'No fitted model in the kernel yet: run the cells that train it (a model with predict() that is fitted).'
        )
      ];
    }
    const frames = (state.model && status.frames[state.model]) || [];
    const columns = (state.train && status.columns[state.train]) || [];
    const out: (Node | null)[] = [
      h(
        'label',
        { class: 'jp-HandoverPanel-field' },
        'Model',
        select(
          'model-select',
          models.map(([name, cls]) => ({
            value: name,
            label: `${name} (${cls})`
          })),
          state.model,
          value => this.model.selectModel(value)
        )
      )
    ];
    if (frames.length === 0) {
      out.push(
        note(
          `No DataFrame in the kernel matches the features of ${state.model}: keep the training frame in a variable.`,
          'error'
        )
      );
    } else {
      out.push(
        h(
          'label',
          { class: 'jp-HandoverPanel-field' },
          'Training frame',
          select(
            'train-select',
            frames.map(name => ({ value: name, label: name })),
            state.train,
            value => this.model.selectTrain(value)
          )
        ),
        h(
          'label',
          { class: 'jp-HandoverPanel-field' },
          'Target column',
          select(
            'target-select',
            columns.map(name => ({ value: name, label: name })),
            state.target,
            value => this.model.selectTarget(value),
            '(none: not in the frame)'
          )
        )
      );
    }
    if (status.default.error && models.length > 1) {
      out.push(note(status.default.error));
    }
    return out;
  }
}

/**
 * The contract preview: one row per column, with its baseline histogram.
 */
class ContractView extends SectionView {
  constructor(model: HandoverModel) {
    super(model, 'Contract', 'handover-contract', [
      'contract',
      'contractLoading',
      'contractError',
      'train'
    ]);
  }

  protected body(state: Readonly<IHandoverState>): (Node | null)[] {
    if (state.contractError) {
      return [
        note(
          `Cannot infer the contract of ${state.train}: ${state.contractError}`,
          'error'
        )
      ];
    }
    const contract = state.contract;
    if (!contract) {
      return [
        note(
          state.contractLoading
            ? 'Inferring the contract…'
            : 'Pick a training frame to preview its contract.',
          state.contractLoading ? 'busy' : 'hint'
        )
      ];
    }
    const table = h('table', {
      class: 'jp-HandoverPanel-contract',
      'data-testid': 'contract-table'
    });
    const body = h('tbody');
    for (const column of contract.columns) {
      const nulls = column.nullable
        ? `${((column.null_fraction ?? 0) * 100).toFixed(1)}% null`
        : 'no nulls';
      const detail = columnDetail(column);
      body.append(
        h(
          'tr',
          { 'data-testid': 'contract-column', title: detail },
          h(
            'td',
            {},
            h('code', {}, column.name),
            h(
              'div',
              { class: 'jp-HandoverPanel-sub' },
              `${column.dtype} · ${nulls}`
            ),
            h(
              'div',
              { class: 'jp-HandoverPanel-sub jp-HandoverPanel-detail' },
              detail
            )
          ),
          h('td', { class: 'jp-HandoverPanel-histcell' }, histogram(column))
        )
      );
    }
    table.append(body);
    return [
      h(
        'p',
        { class: 'jp-HandoverPanel-hint' },
        `${contract.columns.length} input columns of ${state.train}${contract.rows ? `, ${contract.rows} rows` : ''}${state.contractLoading ? ' (updating…)' : ''}`
      ),
      h('div', { class: 'jp-HandoverPanel-scroll' }, table)
    ];
  }
}

/**
 * Python, the requirements of the inference path, the lock state.
 */
class EnvironmentView extends SectionView {
  constructor(model: HandoverModel) {
    super(model, 'Environment', 'handover-environment', [
      'status',
      'packageResult'
    ]);
  }

  protected body(state: Readonly<IHandoverState>): (Node | null)[] {
    const env = state.status?.environment;
    if (!env) {
      return [note('Known once the kernel answered.')];
    }
    const reqs = env.requirements ? Object.entries(env.requirements) : null;
    const result = state.packageResult;
    let lock = env.lock;
    if (result && result.lock_hashes !== undefined) {
      lock = result.lock_hashes
        ? 'hashed (last package)'
        : 'exact pins, no hashes (last package)';
    }
    const dl = h('dl', { class: 'jp-HandoverPanel-facts' });
    const add = (label: string, value: string, testid: string): void => {
      dl.append(h('dt', {}, label), h('dd', { 'data-testid': testid }, value));
    };
    add('Python', env.python, 'env-python');
    add(
      'Packages the model needs',
      reqs ? String(reqs.length) : 'unknown (no model)',
      'env-requirements'
    );
    add(
      'Lock',
      lock + (env.lock_tool ? ` · ${env.lock_tool}` : ''),
      'env-lock'
    );
    const out: (Node | null)[] = [dl];
    if (reqs && reqs.length > 0) {
      out.push(
        h(
          'details',
          {},
          h('summary', {}, 'requirements.in'),
          h(
            'pre',
            { class: 'jp-HandoverPanel-pre' },
            reqs.map(([k, v]) => `${k}==${v}`).join('\n')
          )
        )
      );
    }
    if (result?.lock_message && !result.lock_hashes) {
      out.push(note(result.lock_message));
    }
    return out;
  }
}

/**
 * The Package button, its step-by-step progress and the result.
 */
class PackageView extends SectionView {
  constructor(
    model: HandoverModel,
    private _commands: CommandRegistry,
    private _packageCommand: string
  ) {
    super(model, 'Package', 'handover-package', [
      'packagePhase',
      'packageSteps',
      'packageResult',
      'packageError',
      'status',
      'model',
      'train',
      'kernel',
      'server',
      'settings'
    ]);
  }

  protected body(state: Readonly<IHandoverState>): (Node | null)[] {
    const running = state.packagePhase === 'running';
    const ready =
      state.kernel !== 'none' && state.kernel !== 'dead' && !!state.model;
    const out: (Node | null)[] = [
      button(
        running ? 'Packaging…' : 'Package notebook',
        'package-button',
        () => void this._commands.execute(this._packageCommand),
        {
          accept: true,
          disabled: running || !ready,
          title:
            'Save the notebook, build the handover artifact in the kernel and log it to MLflow'
        }
      )
    ];
    if (!ready && !running && state.notebookPath) {
      out.push(note('Needs a running kernel with a fitted model.'));
    }
    if (state.packagePhase !== 'idle') {
      out.push(stepList(state));
    }
    if (state.packageError) {
      out.push(note(`Packaging failed: ${state.packageError}`, 'error'));
    }
    const result = state.packageResult;
    if (result && state.packagePhase === 'done') {
      const dl = h('dl', { class: 'jp-HandoverPanel-facts' });
      if (result.model_uri) {
        dl.append(
          h('dt', {}, 'Model URI'),
          h('dd', { 'data-testid': 'model-uri' }, result.model_uri)
        );
      }
      const link = runLink(
        result,
        state.settings.trackingUiUrl || state.server?.ui_url || null
      );
      if (result.run_id) {
        dl.append(
          h('dt', {}, 'MLflow run'),
          h(
            'dd',
            { 'data-testid': 'run-id' },
            link
              ? h(
                  'a',
                  {
                    href: link,
                    target: '_blank',
                    rel: 'noopener',
                    'data-testid': 'run-link'
                  },
                  result.run_id
                )
              : `${result.run_id} (${result.tracking_uri ?? ''})`
          )
        );
      }
      if (result.artifact_path) {
        dl.append(
          h('dt', {}, 'Artifact'),
          h('dd', { 'data-testid': 'artifact-path' }, result.artifact_path)
        );
      }
      out.push(dl);
      for (const warning of result.warnings ?? []) {
        out.push(note(`warning: ${warning}`));
      }
    }
    return out;
  }
}

/**
 * The Verify button and the job's progress and report.
 */
class VerifyView extends SectionView {
  constructor(model: HandoverModel) {
    super(model, 'Verify', 'handover-verify', [
      'verifyPhase',
      'verifyJob',
      'verifyError',
      'packageResult',
      'packagePhase'
    ]);
  }

  protected body(state: Readonly<IHandoverState>): (Node | null)[] {
    const result = state.packageResult;
    const ref = result?.model_uri ?? result?.artifact_path;
    if (!ref || state.packagePhase !== 'done') {
      return [
        note(
          'Package first; then replay the golden examples in a clean virtualenv (runs in the Jupyter server, the kernel stays free).'
        )
      ];
    }
    const running = state.verifyPhase === 'running';
    const out: (Node | null)[] = [
      button(
        running ? 'Verifying…' : 'Verify',
        'verify-button',
        () => void this.model.verify(),
        {
          disabled: running,
          title: `Verify ${ref} in a clean virtualenv`
        }
      )
    ];
    const job = state.verifyJob;
    if (job) {
      const list = h('ol', { class: 'jp-HandoverPanel-steps' });
      for (const step of job.steps) {
        list.append(
          h(
            'li',
            { class: 'jp-HandoverPanel-step' },
            `${step.step}: ${step.message}`,
            h(
              'span',
              { class: 'jp-HandoverPanel-secs' },
              ` ${step.seconds.toFixed(1)} s`
            )
          )
        );
      }
      out.push(list);
    }
    if (state.verifyPhase === 'done' || state.verifyPhase === 'failed') {
      const passed = job?.state === 'passed';
      out.push(
        h(
          'p',
          {
            class: passed
              ? 'jp-HandoverPanel-passed'
              : 'jp-HandoverPanel-error',
            'data-testid': 'verify-state'
          },
          passed
            ? `passed: ${job?.report?.rows ?? 0} golden rows match (${job?.seconds.toFixed(1)} s)`
            : `failed${job?.report?.failed_step ? ` at ${job.report.failed_step}` : ''}`
        )
      );
      for (const problem of job?.report?.problems ?? []) {
        out.push(
          note(problem, problem.startsWith('warning') ? 'hint' : 'error')
        );
      }
      if (state.verifyError) {
        out.push(note(state.verifyError, 'error'));
      }
    }
    return out;
  }
}

/**
 * Earlier handovers of this notebook, from MLflow.
 */
class HistoryView extends SectionView {
  constructor(model: HandoverModel) {
    super(model, 'History', 'handover-history', [
      'history',
      'historyLoading',
      'historyError',
      'notebookPath'
    ]);
  }

  protected body(state: Readonly<IHandoverState>): (Node | null)[] {
    if (!state.notebookPath) {
      return [];
    }
    const refresh = button(
      'Refresh',
      'history-refresh',
      () => void this.model.refreshHistory(),
      { disabled: state.historyLoading }
    );
    if (state.historyError) {
      return [
        note(
          `Cannot read the history from MLflow: ${state.historyError}`,
          'error'
        ),
        refresh
      ];
    }
    const history = state.history;
    if (!history) {
      return [
        note(
          state.historyLoading ? 'Reading MLflow…' : 'Not read yet.',
          'busy'
        ),
        refresh
      ];
    }
    if (history.runs.length === 0) {
      return [
        note(
          `No earlier handover of this notebook in ${history.tracking_uri}.`
        ),
        refresh
      ];
    }
    const table = h(
      'table',
      { class: 'jp-HandoverPanel-history' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, 'version'),
          h('th', {}, 'date'),
          h('th', {}, 'verified')
        )
      )
    );
    const body = h('tbody');
    for (const run of history.runs) {
      const label = run.version
        ? `${run.name} v${run.version}`
        : run.run_id.slice(0, 8);
      body.append(
        h(
          'tr',
          { 'data-testid': 'history-row' },
          h(
            'td',
            { title: run.model_uri ?? run.run_id },
            run.run_url
              ? h(
                  'a',
                  { href: run.run_url, target: '_blank', rel: 'noopener' },
                  label
                )
              : label
          ),
          h(
            'td',
            {},
            run.created ? run.created.slice(0, 16).replace('T', ' ') : ''
          ),
          h(
            'td',
            { class: `jp-HandoverPanel-verified-${run.verified}` },
            run.verified
          )
        )
      );
    }
    table.append(body);
    return [h('div', { class: 'jp-HandoverPanel-scroll' }, table), refresh];
  }
}

/**
 * All sections; tells the model when it is shown (kernel queries run only then).
 */
export class HandoverView extends Panel {
  constructor(
    private _model: HandoverModel,
    commands: CommandRegistry,
    tagCommand: string,
    packageCommand: string
  ) {
    super();
    this.addClass('jp-HandoverPanel');
    this.title.label = 'Active notebook';
    const sections = [
      new HeaderView(_model),
      new CellsView(_model, commands, tagCommand),
      new PickersView(_model),
      new ContractView(_model),
      new EnvironmentView(_model),
      new PackageView(_model, commands, packageCommand),
      new VerifyView(_model),
      new HistoryView(_model)
    ];
    for (const section of sections) {
      this.addWidget(section);
    }
  }

  protected onAfterShow(msg: Message): void {
    this._model.setVisible(true);
  }

  protected onAfterAttach(msg: Message): void {
    this._model.setVisible(this.isVisible);
  }

  protected onAfterHide(msg: Message): void {
    this._model.setVisible(false);
  }
}

/**
 * The left-sidebar panel.
 */
export function createHandoverPanel(
  model: HandoverModel,
  commands: CommandRegistry,
  tagCommand: string,
  packageCommand: string
): SidePanel {
  const panel = new SidePanel();
  panel.id = PANEL_ID;
  panel.title.icon = handoverIcon;
  panel.title.caption = 'Handover';
  const heading = new Widget({ node: document.createElement('h2') });
  heading.addClass('jp-HandoverPanel-heading');
  heading.node.textContent = 'Handover';
  panel.header.addWidget(heading);
  panel.addWidget(
    new HandoverView(model, commands, tagCommand, packageCommand)
  );
  return panel;
}
