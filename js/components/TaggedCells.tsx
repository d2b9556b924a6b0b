import React from 'react';

import type { IHandoverState } from '../state';
import type { IExportProblem } from '../types';
import { ActionLink, Button, Note, Section } from './common';

/** How the tag button reaches the `tag-cell` command (label, enabled, run). */
export interface ITagCommand {
  label: string;
  enabled: boolean;
  execute: () => void;
}

/**
 * Tagged cells, tag/untag of the active cell, export problems.
 */
export function TaggedCells(props: {
  state: Readonly<IHandoverState>;
  tagCommand: ITagCommand;
  onJump: (index: number) => void;
}): JSX.Element {
  const { state, tagCommand, onJump } = props;
  if (!state.notebookPath) {
    return (
      <Section title="Cells" testid="handover-cells">
        <Note>No notebook open.</Note>
      </Section>
    );
  }
  const problems = state.status?.problem_details ?? [];
  return (
    <Section title="Cells" testid="handover-cells">
      <CellList state={state} onJump={onJump} />
      <Button
        label={state.activeCellTagged ? 'Untag active cell' : 'Tag active cell'}
        testid="tag-toggle"
        onClick={tagCommand.execute}
        disabled={!tagCommand.enabled}
        title={tagCommand.label}
      />
      {problems.length > 0 && (
        <>
          <h4>Export problems (as of the last kernel query)</h4>
          <ul className="jp-HandoverPanel-problems">
            {problems.map((problem, i) => (
              <Problem key={i} problem={problem} onJump={onJump} />
            ))}
          </ul>
        </>
      )}
    </Section>
  );
}

/** The tagged cells (a click jumps to one), or how to tag them. */
function CellList(props: {
  state: Readonly<IHandoverState>;
  onJump: (index: number) => void;
}): JSX.Element {
  const { state, onJump } = props;
  if (state.taggedCells.length === 0) {
    return (
      <Note>
        No cell is tagged “{state.tagName}”. Tag the cells that inference needs
        (feature code, preprocess(df), postprocess): they are exported, in
        order, as inference.py.
      </Note>
    );
  }
  return (
    <>
      <p className="jp-HandoverPanel-hint" data-testid="tagged-count">
        {state.taggedCells.length} tagged
      </p>
      <ul className="jp-HandoverPanel-cells">
        {state.taggedCells.map(cell => (
          <li
            key={cell.index}
            className="jp-HandoverPanel-cell"
            data-testid="tagged-cell"
            title="Jump to this cell"
            onClick={() => onJump(cell.index)}
          >
            <span className="jp-HandoverPanel-prompt">
              [{cell.executionCount ?? ' '}]
            </span>
            <code>{cell.firstLine || '(empty cell)'}</code>
          </li>
        ))}
      </ul>
    </>
  );
}

/** One blocking problem of the export, with links to the cells it names. */
function Problem(props: {
  problem: IExportProblem;
  onJump: (index: number) => void;
}): JSX.Element {
  const { problem, onJump } = props;
  const cell = problem.cell;
  return (
    <li className="jp-HandoverPanel-problem" data-testid="export-problem">
      {problem.message}
      {(problem.defined_in ?? []).map(ref => (
        <React.Fragment key={ref.index}>
          <br />
          <ActionLink testid="problem-cell" onClick={() => onJump(ref.index)}>
            → defined in [{ref.execution_count ?? ' '}] {ref.first_line}
          </ActionLink>
        </React.Fragment>
      ))}
      {cell && (
        <>
          <br />
          <ActionLink onClick={() => onJump(cell.index)}>
            → in tagged cell [{cell.execution_count ?? ' '}]
            {problem.line ? ` line ${problem.line}` : ''}
          </ActionLink>
        </>
      )}
    </li>
  );
}
