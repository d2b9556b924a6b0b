import React, { act } from 'react';
import { createRoot, Root } from 'react-dom/client';

import { History } from '../components/History';
import {
  canPromote,
  HistoryActions,
  moveText,
  rollbackAliases
} from '../modelRelease';
import { IHandoverState, INITIAL_STATE } from '../state';
import type { IHistory, IHistoryRun } from '../types';
import { FakeBackend } from './fakes';

(
  globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }
).IS_REACT_ACT_ENVIRONMENT = true;

function run(version: string, change: Partial<IHistoryRun> = {}): IHistoryRun {
  return {
    run_id: `r${version}`,
    experiment_id: '1',
    created: '2026-12-01T10:00:00+00:00',
    verified: 'passed',
    name: 'churn',
    version,
    model_uri: `models:/churn/${version}`,
    run_url: null,
    shadow: 'passed',
    shadow_against: 'models:/churn/1',
    aliases: [],
    ...change
  };
}

const HISTORY: IHistory = {
  tracking_uri: 'http://mlflow:5000',
  ui_url: null,
  runs: [
    run('3', { shadow: 'failed' }),
    run('2'),
    run('1', { aliases: ['champion'], shadow: 'not-run' }),
    run('0', { verified: 'failed', aliases: ['champion-previous'] })
  ]
};

describe('release helpers', () => {
  it('offers Promote only when verify and shadow passed', () => {
    expect(canPromote(run('2'))).toBe(true);
    expect(canPromote(run('2', { shadow: 'failed' }))).toBe(false);
    expect(canPromote(run('2', { shadow: 'not-run' }))).toBe(false);
    expect(canPromote(run('2', { verified: 'not-run' }))).toBe(false);
    expect(canPromote(run('2', { aliases: ['champion'] }))).toBe(false);
    expect(canPromote(run('2', { model_uri: null }))).toBe(false);
  });

  it('rolls back the aliases a version holds, never a -previous one', () => {
    expect(
      rollbackAliases(run('1', { aliases: ['champion', 'x-previous'] }))
    ).toEqual(['champion']);
  });

  it('says what moved', () => {
    const move = {
      kind: 'rollback' as const,
      name: 'churn',
      alias: 'champion',
      from_version: '2',
      to_version: '1',
      who: 'me',
      at: '',
      why: ''
    };
    expect(moveText({ moved: true, move }, 'champion')).toBe(
      'churn@champion rolled back to v1 (was v2)'
    );
    expect(moveText({ moved: false, move: null }, 'champion')).toMatch(
      /nothing moved/
    );
  });
});

describe('HistoryActions', () => {
  let backend: FakeBackend;
  let state: IHandoverState;
  let actions: HistoryActions;

  beforeEach(() => {
    backend = new FakeBackend();
    state = {
      ...INITIAL_STATE,
      notebookPath: 'demo.ipynb',
      settings: { ...INITIAL_STATE.settings, trackingUri: 'http://mlflow:5000' }
    };
    actions = new HistoryActions(backend, {
      read: () => state,
      update: change => {
        state = { ...state, ...change };
      }
    });
    backend.answers.history = [HISTORY];
  });

  it('posts a promote of the version, then reads the history again', async () => {
    backend.answers.promote = [
      {
        moved: true,
        move: {
          kind: 'promote',
          name: 'churn',
          alias: 'champion',
          from_version: '1',
          to_version: '2',
          who: 'me',
          at: '',
          why: ''
        }
      }
    ];
    await actions.release('promote', run('2'));
    const post = backend.requests.find(r => r.endPoint === 'promote');
    expect(post?.init?.method).toBe('POST');
    expect(JSON.parse(String(post?.init?.body))).toEqual({
      model_uri: 'models:/churn/2',
      alias: 'champion',
      path: 'demo.ipynb',
      tracking_uri: 'http://mlflow:5000'
    });
    expect(state.releaseMessage).toBe('churn@champion promoted to v2 (was v1)');
    expect(state.releaseBusy).toBe(false);
    expect(backend.requests[backend.requests.length - 1].endPoint).toMatch(
      /^history\?/
    );
    expect(state.history).toBe(HISTORY);
  });

  it('keeps a refusal as state', async () => {
    backend.answers.rollback = [
      new Error('no former holder passed verification')
    ];
    await actions.release('rollback', run('1'), 'champion');
    const post = backend.requests.find(r => r.endPoint === 'rollback');
    expect(JSON.parse(String(post?.init?.body)).name).toBe('churn');
    expect(state.releaseError).toMatch(/no former holder/);
    expect(state.releaseBusy).toBe(false);
  });
});

describe('History', () => {
  let container: HTMLDivElement;
  let root: Root;

  beforeEach(() => {
    container = document.createElement('div');
    document.body.appendChild(container);
    root = createRoot(container);
  });

  afterEach(() => {
    act(() => root.unmount());
    container.remove();
  });

  it('shows verify and shadow per version, Promote and Roll back where they apply', () => {
    const onRelease = jest.fn();
    const state = {
      ...INITIAL_STATE,
      notebookPath: 'demo.ipynb',
      history: HISTORY
    };
    act(() => {
      root.render(
        <History
          state={state}
          onRefresh={() => undefined}
          onRelease={onRelease}
        />
      );
    });
    const rows = Array.from(
      container.querySelectorAll('[data-testid="history-row"]')
    );
    const cells = rows.map(row =>
      Array.from(row.querySelectorAll('td')).map(td => td.textContent)
    );
    expect(cells.map(c => c.slice(2, 4))).toEqual([
      ['passed', 'failed'],
      ['passed', 'passed'],
      ['passed', 'not-run'],
      ['failed', 'passed']
    ]);
    const promote = (i: number): Element | null =>
      rows[i].querySelector('[data-testid="history-promote"]');
    expect([0, 1, 2, 3].map(i => promote(i) !== null)).toEqual([
      false,
      true,
      false,
      false
    ]);
    expect(
      rows[2].querySelector('[data-testid="history-alias"]')?.textContent
    ).toBe('@champion');
    const rollbacks = container.querySelectorAll(
      '[data-testid="history-rollback"]'
    );
    expect(rollbacks).toHaveLength(1);
    expect(rows[2].contains(rollbacks[0])).toBe(true);

    act(() => (promote(1) as HTMLButtonElement).click());
    expect(onRelease).toHaveBeenCalledWith('promote', HISTORY.runs[1]);
    act(() => (rollbacks[0] as HTMLButtonElement).click());
    expect(onRelease).toHaveBeenCalledWith(
      'rollback',
      HISTORY.runs[2],
      'champion'
    );
  });

  it('disables the actions while a move is on its way and shows its outcome', () => {
    const state = {
      ...INITIAL_STATE,
      notebookPath: 'demo.ipynb',
      history: HISTORY,
      releaseBusy: true,
      releaseError: 'not moving churn@champion: run jupyter handover shadow'
    };
    act(() => {
      root.render(
        <History
          state={state}
          onRefresh={() => undefined}
          onRelease={jest.fn()}
        />
      );
    });
    const button = container.querySelector(
      '[data-testid="history-promote"]'
    ) as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    expect(
      container.querySelector('[data-testid="release-error"]')?.textContent
    ).toMatch(/jupyter handover shadow/);
  });
});
