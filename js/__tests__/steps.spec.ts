import { normalizeSteps, reachStep, sameSteps, stepRows } from '../steps';
import { STEPS } from './fakes';

describe('normalizeSteps', () => {
  it('reads objects and bare ids, and drops the rest', () => {
    expect(
      normalizeSteps([{ id: 'lock', label: 'Lock' }, 'log', { id: 'x' }, 3])
    ).toEqual([
      { id: 'lock', label: 'Lock' },
      { id: 'log', label: 'log' },
      { id: 'x', label: 'x' }
    ]);
    expect(normalizeSteps(undefined)).toEqual([]);
  });

  it('compares lists by content', () => {
    expect(sameSteps(STEPS, normalizeSteps(STEPS.map(s => s.id)))).toBe(true);
    expect(sameSteps(STEPS, STEPS.slice(1))).toBe(false);
  });
});

describe('reachStep', () => {
  it('adds a step once', () => {
    const reached = reachStep([], 'save', 0);
    expect(reachStep(reached, 'save', 5)).toBe(reached);
    expect(reachStep(reached, 'export', 5)).toEqual([
      { step: 'save', at: 0 },
      { step: 'export', at: 5 }
    ]);
  });
});

describe('stepRows', () => {
  const reached = [
    { step: 'save', at: 0 },
    { step: 'export', at: 200 },
    { step: 'contract', at: 500 }
  ];

  it('shows only the save step before the first progress display', () => {
    expect(stepRows([], [{ step: 'save', at: 0 }], 'running', null)).toEqual([
      { id: 'save', label: 'save', state: 'current', seconds: null }
    ]);
  });

  it('marks done, current and to-come steps with durations', () => {
    const rows = stepRows(STEPS, reached, 'running', null);
    expect(rows.slice(0, 4)).toEqual([
      { id: 'save', label: 'save', state: 'done', seconds: 0.2 },
      { id: 'export', label: 'export', state: 'done', seconds: 0.3 },
      { id: 'contract', label: 'contract', state: 'current', seconds: null },
      { id: 'model', label: 'model', state: 'todo', seconds: null }
    ]);
    expect(rows).toHaveLength(STEPS.length + 1);
  });

  it('marks the last step reached of a failed run', () => {
    const rows = stepRows(STEPS, reached, 'failed', 800);
    expect(rows[2]).toEqual({
      id: 'contract',
      label: 'contract',
      state: 'failed',
      seconds: 0.3
    });
    expect(rows[3].state).toBe('todo');
  });

  it('shows a finished run as all done, and steps the plan lacks', () => {
    const rows = stepRows(
      STEPS.slice(0, 1),
      [...reached, { step: 'extra', at: 600 }],
      'done',
      900
    );
    expect(rows.map(row => [row.id, row.state])).toEqual([
      ['save', 'done'],
      ['export', 'done'],
      ['contract', 'done'],
      ['extra', 'done']
    ]);
    expect(rows[3].seconds).toBeCloseTo(0.3);
  });
});
