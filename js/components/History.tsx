import React from 'react';

import type { IHandoverState } from '../state';
import type { IHistoryRun } from '../types';
import { Button, Note, Section } from './common';

/**
 * Earlier handovers of this notebook, from MLflow.
 */
export function History(props: {
  state: Readonly<IHandoverState>;
  onRefresh: () => void;
}): JSX.Element {
  const { state } = props;
  if (!state.notebookPath) {
    return <Section title="History" testid="handover-history" />;
  }
  const history = state.history;
  let body: React.ReactNode;
  if (state.historyError) {
    body = (
      <Note kind="error">
        Cannot read the history from MLflow: {state.historyError}
      </Note>
    );
  } else if (!history) {
    body = (
      <Note kind="busy">
        {state.historyLoading ? 'Reading MLflow…' : 'Not read yet.'}
      </Note>
    );
  } else if (history.runs.length === 0) {
    body = (
      <Note>
        No earlier handover of this notebook in {history.tracking_uri}.
      </Note>
    );
  } else {
    body = (
      <div className="jp-HandoverPanel-scroll">
        <table className="jp-HandoverPanel-history">
          <thead>
            <tr>
              <th>version</th>
              <th>date</th>
              <th>verified</th>
            </tr>
          </thead>
          <tbody>
            {history.runs.map(run => (
              <HistoryRow key={run.run_id} run={run} />
            ))}
          </tbody>
        </table>
      </div>
    );
  }
  return (
    <Section title="History" testid="handover-history">
      {body}
      <Button
        label="Refresh"
        testid="history-refresh"
        onClick={props.onRefresh}
        disabled={state.historyLoading}
      />
    </Section>
  );
}

function HistoryRow(props: { run: IHistoryRun }): JSX.Element {
  const { run } = props;
  const label = run.version
    ? `${run.name} v${run.version}`
    : run.run_id.slice(0, 8);
  return (
    <tr data-testid="history-row">
      <td title={run.model_uri ?? run.run_id}>
        {run.run_url ? (
          <a href={run.run_url} target="_blank" rel="noopener">
            {label}
          </a>
        ) : (
          label
        )}
      </td>
      <td>{run.created ? run.created.slice(0, 16).replace('T', ' ') : ''}</td>
      <td className={`jp-HandoverPanel-verified-${run.verified}`}>
        {run.verified}
      </td>
    </tr>
  );
}
