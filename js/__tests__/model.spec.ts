import { HandoverModel } from '../model';
import { stepRows } from '../steps';
import { CONTRACT, FakeBackend, FakeNotebook, STEPS, until } from './fakes';

const TIMINGS = {
  refreshDelay: 400,
  statusInterval: 30_000,
  verifyInterval: 1000
};

/** Run the fake clock forward, letting promises settle between timers. */
async function advance(ms: number): Promise<void> {
  await jest.advanceTimersByTimeAsync(ms);
}

describe('HandoverModel', () => {
  let backend: FakeBackend;
  let notebook: FakeNotebook;
  let model: HandoverModel;

  beforeEach(() => {
    jest.useFakeTimers();
    backend = new FakeBackend();
    notebook = new FakeNotebook();
    model = new HandoverModel(backend, TIMINGS);
  });

  afterEach(() => {
    model.dispose();
    jest.useRealTimers();
  });

  /** Follow the notebook, show the panel and let the first status query answer. */
  async function shown(): Promise<void> {
    model.setNotebook(notebook);
    model.setVisible(true);
    await advance(0);
    await until(model, state => state.statusCount === 1);
  }

  describe('status', () => {
    it('asks the kernel once shown and picks what package would pick', async () => {
      await shown();
      const state = model.state;
      expect(state.notebookPath).toBe('demo.ipynb');
      expect(state.model).toBe('model');
      expect(state.train).toBe('X_train');
      expect(state.contract).toEqual(CONTRACT);
      expect(state.statusMs).toBe(12);
      expect(backend.callsOf('status')).toEqual([
        ['status', '--json', '--tag', 'handover']
      ]);
      // the status carried the contract of the default frame: no second query
      expect(backend.callsOf('contract')).toEqual([]);
    });

    it('does not ask while the panel is hidden, and asks when it is shown', async () => {
      model.setNotebook(notebook);
      await advance(TIMINGS.statusInterval * 3);
      expect(backend.calls).toEqual([]);
      model.setVisible(true);
      await advance(0);
      expect(backend.callsOf('status')).toHaveLength(1);
    });

    it('asks once, a moment after a burst of executions', async () => {
      await shown();
      for (let i = 0; i < 3; i++) {
        notebook.emit('executed');
        await advance(100);
      }
      expect(backend.callsOf('status')).toHaveLength(1);
      await advance(TIMINGS.refreshDelay);
      expect(backend.callsOf('status')).toHaveLength(2);
      expect(model.state.statusCount).toBe(2);
    });

    it('waits while the kernel is busy and asks once it is idle', async () => {
      await shown();
      notebook.kernelPhase = 'busy';
      notebook.emit('kernel-status');
      notebook.emit('executed');
      await advance(TIMINGS.refreshDelay * 3);
      expect(backend.callsOf('status')).toHaveLength(1);
      expect(model.state.kernel).toBe('busy');
      notebook.kernelPhase = 'idle';
      notebook.emit('kernel-status');
      await advance(0);
      expect(backend.callsOf('status')).toHaveLength(2);
    });

    it('polls while shown and stands by while hidden', async () => {
      await shown();
      await advance(TIMINGS.statusInterval);
      expect(backend.callsOf('status')).toHaveLength(2);
      model.setVisible(false);
      await advance(TIMINGS.statusInterval * 3);
      expect(backend.callsOf('status')).toHaveLength(2);
    });

    it('takes each new status and keeps the unchanged tagged cells', async () => {
      await shown();
      const first = model.state.status;
      const cells = model.state.taggedCells;
      notebook.emit('executed');
      await advance(TIMINGS.refreshDelay + 1);
      expect(model.state.status).not.toBe(first);
      expect(model.state.taggedCells).toBe(cells);
      expect(model.state.model).toBe('model');
    });

    it('shows why the kernel gave no status', async () => {
      backend.status = null;
      await shown();
      expect(model.state.statusError).toMatch(/is jupyter_handover installed/);
      backend.error = 'NameError: name get_ipython is not defined';
      model.requestStatus();
      await advance(0);
      expect(model.state.statusError).toBe(backend.error);
    });

    it('forgets the status when the kernel changes', async () => {
      await shown();
      notebook.emit('kernel');
      expect(model.state.status).toBeNull();
      await advance(0);
      expect(backend.callsOf('status')).toHaveLength(2);
      expect(model.state.status).not.toBeNull();
    });
  });

  describe('pickers', () => {
    it('keeps the choice across refreshes and asks for the contract of a new choice', async () => {
      await shown();
      model.selectTarget('churn');
      await advance(0);
      expect(backend.callsOf('contract')).toEqual([
        ['contract', 'X_train', '--json', '--target', 'churn']
      ]);
      expect(model.state.contract?.rows).toBe(99);
      model.requestStatus();
      await advance(0);
      expect(model.state.target).toBe('churn');
      expect(model.state.contract?.rows).toBe(99);

      model.selectModel('other');
      await advance(0);
      expect(model.state.train).toBe('X_all');
      expect(model.state.target).toBeNull(); // X_all has no churn column
      expect(backend.callsOf('contract').pop()).toEqual([
        'contract',
        'X_all',
        '--json'
      ]);
    });

    it('emits only on a real change', async () => {
      await shown();
      const seen = jest.fn();
      model.stateChanged.connect(seen);
      model.selectModel('model');
      model.refresh();
      expect(seen).not.toHaveBeenCalled();
    });
  });

  describe('package', () => {
    it('shows the steps of the progress display as they start', async () => {
      await shown();
      const running = model.package();
      await advance(0);
      expect(notebook.saved).toBe(1);
      expect(model.state.packagePhase).toBe('running');
      expect(model.state.packagePlan).toEqual(STEPS);
      await advance(backend.stepMs * 2);
      const rows = stepRows(
        model.state.packagePlan,
        model.state.packageSteps,
        model.state.packagePhase,
        model.state.packageEndedAt
      );
      expect(rows.map(row => row.state)).toEqual([
        'done',
        'done',
        'done',
        'current',
        'todo',
        'todo',
        'todo',
        'todo'
      ]);
      expect(rows[1].seconds).toBeCloseTo(0.1);
      await advance(backend.stepMs * STEPS.length);
      await running;
      const state = model.state;
      expect(state.packagePhase).toBe('done');
      expect(state.packageResult?.model_uri).toBe('models:/churn/1');
      const done = stepRows(
        state.packagePlan,
        state.packageSteps,
        state.packagePhase,
        state.packageEndedAt
      );
      expect(done.every(row => row.state === 'done')).toBe(true);
      expect(done[done.length - 1].seconds).toBeCloseTo(0.1);
    });

    it('runs the magic with the choices and settings, and no progress flag', async () => {
      await shown();
      model.setSettings({ trackingUri: 'http://mlflow:5000', examples: 5 });
      model.selectTarget('churn');
      backend.progress = [];
      await model.package();
      expect(backend.callsOf('package')).toEqual([
        [
          'package',
          '--json',
          '--tag',
          'handover',
          '--model',
          'model',
          '--train',
          'X_train',
          '--target',
          'churn',
          '--tracking-uri',
          'http://mlflow:5000',
          '--examples',
          '5',
          '--notebook',
          '/root/demo.ipynb'
        ]
      ]);
    });

    it('ends with the result when no progress display came', async () => {
      await shown();
      backend.progress = [];
      await model.package();
      expect(model.state.packagePhase).toBe('done');
      // the result's steps fill the list
      expect(model.state.packagePlan).toEqual(STEPS);

      backend.packageResult = { status: 'logged', model_uri: 'models:/c/2' };
      await model.package();
      const rows = stepRows(
        model.state.packagePlan,
        model.state.packageSteps,
        model.state.packagePhase,
        model.state.packageEndedAt
      );
      expect(model.state.packagePhase).toBe('done');
      expect(rows.map(row => [row.id, row.state])).toEqual([['save', 'done']]);
    });

    it('marks the step that failed', async () => {
      await shown();
      backend.progress = backend.progress.slice(0, 3);
      backend.packageResult = { status: 'failed', error: 'lock failed' };
      const running = model.package();
      await advance(backend.stepMs * 3);
      await running;
      const state = model.state;
      expect(state.packagePhase).toBe('failed');
      expect(state.packageError).toBe('lock failed');
      const rows = stepRows(
        state.packagePlan,
        state.packageSteps,
        state.packagePhase,
        state.packageEndedAt
      );
      expect(rows.map(row => row.state)).toEqual([
        'done',
        'done',
        'done',
        'failed',
        'todo',
        'todo',
        'todo',
        'todo'
      ]);
    });

    it('fails with the kernel error, and without a kernel', async () => {
      await shown();
      backend.error = 'ValueError: no model';
      backend.progress = [];
      await model.package();
      expect(model.state.packagePhase).toBe('failed');
      expect(model.state.packageError).toBe('ValueError: no model');

      notebook.kernel = null;
      await model.package();
      expect(model.state.packageError).toMatch(/^no kernel/);
    });

    it('refreshes the history and the status afterwards', async () => {
      backend.answers.history = [{ tracking_uri: 'x', ui_url: null, runs: [] }];
      await shown();
      const before = backend.requests.length;
      backend.progress = [];
      await model.package();
      await advance(0);
      expect(backend.requests[before].endPoint).toBe('history?path=demo.ipynb');
      expect(backend.callsOf('status').length).toBeGreaterThanOrEqual(2);
    });
  });

  describe('verify', () => {
    it('starts a job in the server and polls it until it passed', async () => {
      backend.answers.history = [{ tracking_uri: 'x', ui_url: null, runs: [] }];
      const job = {
        id: 'j1',
        model_ref: 'models:/churn/1',
        state: 'running',
        steps: [],
        report: null,
        error: null,
        seconds: 0
      };
      backend.answers['verify/j1'] = [
        { ...job, steps: [{ step: 'venv', message: 'creating', seconds: 1 }] },
        { ...job, state: 'passed', seconds: 2 }
      ];
      backend.answers.verify = [job];
      await shown();
      backend.progress = [];
      await model.package();
      await model.verify();
      expect(model.state.verifyPhase).toBe('running');
      const post = backend.requests.find(r => r.endPoint === 'verify');
      expect(JSON.parse(String(post?.init?.body))).toEqual({
        model_ref: 'models:/churn/1',
        tracking_uri: 'sqlite:///mlflow.db',
        path: 'demo.ipynb'
      });
      await advance(TIMINGS.verifyInterval);
      expect(model.state.verifyJob?.steps).toHaveLength(1);
      const histories = backend.requests.filter(r =>
        r.endPoint.startsWith('history')
      ).length;
      await advance(TIMINGS.verifyInterval);
      expect(model.state.verifyPhase).toBe('done');
      await advance(TIMINGS.verifyInterval * 3);
      const polls = backend.requests.filter(r => r.endPoint === 'verify/j1');
      expect(polls).toHaveLength(2);
      expect(
        backend.requests.filter(r => r.endPoint.startsWith('history')).length
      ).toBe(histories + 1);
    });

    it('cancels a running job in the server', async () => {
      const job = {
        id: 'j2',
        model_ref: 'models:/churn/1',
        state: 'running',
        steps: [],
        report: null,
        error: null,
        seconds: 0
      };
      backend.answers['verify/j2'] = [{ ...job, state: 'cancelled' }];
      backend.answers.verify = [job];
      await shown();
      backend.progress = [];
      await model.package();
      await model.verify();
      await model.cancelVerify();
      const cancel = backend.requests.find(r => r.endPoint === 'verify/j2');
      expect(cancel?.init?.method).toBe('DELETE');
      expect(model.state.verifyPhase).toBe('failed');
      expect(model.state.verifyJob?.state).toBe('cancelled');
      await advance(TIMINGS.verifyInterval * 3);
      expect(
        backend.requests.filter(r => r.endPoint === 'verify/j2')
      ).toHaveLength(1); // no polling after the cancel
    });

    it('shows a server error', async () => {
      await shown();
      backend.progress = [];
      await model.package();
      backend.answers.verify = [new Error('403: outside the root')];
      await model.verify();
      expect(model.state.verifyPhase).toBe('failed');
      expect(model.state.verifyError).toMatch(/outside the root/);
    });
  });

  describe('notebook', () => {
    it('follows the cells, jumps to one, and lets go of a closed notebook', async () => {
      await shown();
      expect(model.state.taggedCells).toHaveLength(1);
      notebook.cells = [];
      notebook.activeTagged = true;
      notebook.emit('cells');
      expect(model.state.taggedCells).toEqual([]);
      expect(model.state.activeCellTagged).toBe(true);
      model.jumpToCell(2);
      expect(notebook.jumped).toEqual([2]);
      notebook.emit('disposed');
      expect(model.state.notebookPath).toBeNull();
      expect(notebook.isDisposed).toBe(true);
    });

    it('reads the server configuration, or why it cannot', async () => {
      backend.answers.config = [
        { version: '0.1.0', tag: 'handover', tracking_uri: '', ui_url: null }
      ];
      await model.fetchServerConfig();
      expect(model.state.server?.version).toBe('0.1.0');
      backend.answers.config = [new Error('404')];
      await model.fetchServerConfig();
      expect(model.state.server).toBeNull();
      expect(model.state.error).toBe('Error: 404');
    });
  });
});
