import React from 'react';

import type { IHandoverState } from '../state';
import { stepRows, StepState } from '../steps';

const MARKS: Record<StepState, string> = {
  done: '●',
  current: '◐',
  failed: '✕',
  todo: '○'
};

/**
 * The packaging steps: done ones with their duration, the current one, those to come.
 * The kernel's steps appear with its first progress display (or its result).
 */
export function StepList(props: {
  state: Readonly<IHandoverState>;
}): JSX.Element {
  const { state } = props;
  const rows = stepRows(
    state.packagePlan,
    state.packageSteps,
    state.packagePhase,
    state.packageEndedAt
  );
  return (
    <ol className="jp-HandoverPanel-steps" data-testid="package-steps">
      {rows.map(row => (
        <li
          key={row.id}
          className={`jp-HandoverPanel-step jp-mod-${row.state}`}
          data-testid="package-step"
          data-step={row.id}
          data-state={row.state}
        >
          {`${MARKS[row.state]} ${row.label}`}
          {row.seconds !== null && (
            <span className="jp-HandoverPanel-secs">
              {` ${row.seconds.toFixed(1)} s`}
            </span>
          )}
        </li>
      ))}
    </ol>
  );
}
