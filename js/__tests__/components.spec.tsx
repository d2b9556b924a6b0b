import React, { act } from 'react';
import { createRoot, Root } from 'react-dom/client';

import { HandoverPanel } from '../components/HandoverPanel';
import { HandoverModel } from '../model';
import { IHandoverState, INITIAL_STATE } from '../state';
import { FakeBackend, makeStatus, STEPS } from './fakes';

(
  globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }
).IS_REACT_ACT_ENVIRONMENT = true;

describe('HandoverPanel', () => {
  let container: HTMLDivElement;
  let root: Root;
  let model: HandoverModel;

  const shown: IHandoverState = {
    ...INITIAL_STATE,
    notebookPath: 'demo.ipynb',
    kernel: 'idle',
    status: makeStatus(),
    statusCount: 1,
    model: 'model',
    train: 'X_train'
  };

  function render(state: IHandoverState): void {
    act(() => {
      root.render(
        <HandoverPanel
          model={model}
          state={state}
          tagCommand={{ label: 'Tag', enabled: true, execute: () => undefined }}
          onPackage={() => undefined}
        />
      );
    });
  }

  function select(testid: string): HTMLSelectElement {
    return container.querySelector(
      `[data-testid="${testid}"]`
    ) as HTMLSelectElement;
  }

  beforeEach(() => {
    container = document.createElement('div');
    document.body.appendChild(container);
    root = createRoot(container);
    model = new HandoverModel(new FakeBackend());
  });

  afterEach(() => {
    act(() => root.unmount());
    container.remove();
    model.dispose();
  });

  it('keeps the focused model picker across a status refresh', () => {
    render(shown);
    const picker = select('model-select');
    picker.focus();
    expect(picker.value).toBe('model');
    render({ ...shown, kernel: 'busy', statusLoading: true });
    render({ ...shown, status: makeStatus(), statusCount: 2 });
    expect(select('model-select')).toBe(picker);
    expect(document.activeElement).toBe(picker);
    expect(select('train-select').value).toBe('X_train');
  });

  it('hands a choice to the model', () => {
    const spy = jest.spyOn(model, 'selectModel').mockImplementation(() => {});
    render(shown);
    act(() => {
      const picker = select('model-select');
      picker.value = 'other';
      picker.dispatchEvent(new Event('change', { bubbles: true }));
    });
    expect(spy).toHaveBeenCalledWith('other');
  });

  it('lists the kernel steps once the first progress display came', () => {
    const running = {
      ...shown,
      packagePhase: 'running' as const,
      packageSteps: [{ step: 'save', at: 0 }]
    };
    render(running);
    const steps = (): NodeListOf<HTMLElement> =>
      container.querySelectorAll('[data-testid="package-step"]');
    expect(steps()).toHaveLength(1);
    render({
      ...running,
      packagePlan: STEPS,
      packageSteps: [...running.packageSteps, { step: 'export', at: 100 }]
    });
    expect(Array.from(steps()).map(li => li.dataset.state)).toEqual([
      'done',
      'current',
      'todo',
      'todo',
      'todo',
      'todo',
      'todo',
      'todo'
    ]);
    expect(steps()[0].textContent).toBe('● save 0.1 s');
    expect(
      container.querySelector('[data-testid="package-button"]')?.textContent
    ).toBe('Packaging…');
  });

  it('shows the model URI and the run link of a finished package', () => {
    render({
      ...shown,
      packagePhase: 'done',
      packageResult: {
        status: 'logged',
        model_uri: 'models:/churn/1',
        run_id: 'r1',
        experiment_id: '1',
        tracking_uri: 'http://mlflow:5000'
      }
    });
    const text = (testid: string): string | null | undefined =>
      container.querySelector(`[data-testid="${testid}"]`)?.textContent;
    expect(text('model-uri')).toBe('models:/churn/1');
    expect(
      container.querySelector('[data-testid="run-link"]')?.getAttribute('href')
    ).toBe('http://mlflow:5000/#/experiments/1/runs/r1');
    expect(text('verify-button')).toBe('Verify');
  });
});
