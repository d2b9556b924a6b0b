import {
  packageArgs,
  pickSelection,
  runLink,
  sameCells,
  targetFor,
  trainFor
} from '../helpers';
import { INITIAL_STATE } from '../state';
import { makeStatus } from './fakes';

describe('runLink', () => {
  const result = {
    status: 'logged',
    run_id: 'r1',
    experiment_id: '7',
    tracking_uri: 'http://mlflow:5000/'
  };

  it('links the run in the MLflow UI', () => {
    expect(runLink(result, 'http://ui/')).toBe(
      'http://ui/#/experiments/7/runs/r1'
    );
    expect(runLink(result, null)).toBe(
      'http://mlflow:5000/#/experiments/7/runs/r1'
    );
  });

  it('gives no link without a UI or a run', () => {
    expect(runLink({ ...result, tracking_uri: 'sqlite:///m.db' }, null)).toBe(
      null
    );
    expect(runLink({ status: 'built' }, 'http://ui')).toBeNull();
    expect(runLink(null, 'http://ui')).toBeNull();
  });
});

describe('pickSelection', () => {
  const none = { model: null, train: null, target: null };

  it('takes what package would pick, with the status contract', () => {
    expect(pickSelection(makeStatus(), none)).toEqual({
      model: 'model',
      train: 'X_train',
      useStatusContract: true
    });
  });

  it("keeps the user's choice while the kernel has it", () => {
    const chosen = { model: 'model', train: 'X_all', target: null };
    expect(pickSelection(makeStatus(), chosen)).toEqual({
      model: 'model',
      train: 'X_all',
      useStatusContract: false
    });
    const gone = { model: 'gone', train: 'X_all', target: null };
    expect(pickSelection(makeStatus(), gone).model).toBe('model');
  });

  it('needs its own contract when a target is chosen', () => {
    const target = { model: null, train: null, target: 'churn' };
    expect(pickSelection(makeStatus(), target).useStatusContract).toBe(false);
  });

  it('picks nothing in an empty kernel', () => {
    const status = {
      ...makeStatus(),
      models: {},
      frames: {},
      default: { model: null, train: null, error: 'no model' },
      contract: null
    };
    expect(pickSelection(status, none)).toEqual({
      model: null,
      train: null,
      useStatusContract: false
    });
  });
});

describe('trainFor and targetFor', () => {
  it('keep what still fits, else the first frame and no target', () => {
    const status = makeStatus();
    expect(trainFor(status, 'model', 'X_all')).toBe('X_all');
    expect(trainFor(status, 'other', 'X_train')).toBe('X_all');
    expect(trainFor(null, 'other', 'X_train')).toBeNull();
    expect(targetFor(status, 'X_train', 'churn')).toBe('churn');
    expect(targetFor(status, 'X_all', 'churn')).toBeNull();
  });
});

describe('packageArgs', () => {
  it('passes only what is set', () => {
    expect(packageArgs(INITIAL_STATE, null)).toEqual([
      'package',
      '--json',
      '--tag',
      'handover',
      '--examples',
      '20'
    ]);
  });
});

describe('sameCells', () => {
  it('compares index, count and first line', () => {
    const cell = { index: 1, executionCount: 2, firstLine: 'x = 1' };
    expect(sameCells([cell], [{ ...cell }])).toBe(true);
    expect(sameCells([cell], [{ ...cell, executionCount: 3 }])).toBe(false);
    expect(sameCells([cell], [])).toBe(false);
  });
});
