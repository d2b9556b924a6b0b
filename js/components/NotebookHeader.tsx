import React from 'react';

import type { IHandoverState, KernelPhase } from '../state';
import { Note, Section } from './common';

const KERNEL_TEXT: Record<KernelPhase, string> = {
  none: 'no kernel: start one to fill the model and data pickers',
  starting: 'kernel starting…',
  idle: 'kernel idle',
  busy: 'kernel busy: the pickers refresh when it is idle',
  dead: 'kernel dead: restart it'
};

/**
 * The notebook, the kernel and the server extension in one line each.
 */
export function NotebookHeader(props: {
  state: Readonly<IHandoverState>;
}): JSX.Element {
  const { state } = props;
  if (!state.notebookPath) {
    return (
      <Section title="Notebook" testid="handover-notebook">
        <Note>Open a notebook to hand over its model.</Note>
      </Section>
    );
  }
  return (
    <Section title="Notebook" testid="handover-notebook">
      <p className="jp-HandoverPanel-path" data-testid="notebook-path">
        {state.notebookPath}
      </p>
      <p
        className="jp-HandoverPanel-hint"
        data-testid="kernel-state"
        data-status-ms={
          state.statusMs === null ? undefined : state.statusMs.toFixed(0)
        }
        data-status-count={state.statusCount}
      >
        {KERNEL_TEXT[state.kernel] +
          (state.statusLoading ? ' · asking the kernel…' : '')}
      </p>
      {state.error && (
        <Note kind="error">Server extension unreachable: {state.error}</Note>
      )}
    </Section>
  );
}
