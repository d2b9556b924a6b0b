import React from 'react';

import { canPromote, ReleaseAction, rollbackAliases } from '../modelRelease';
import type { IHandoverState } from '../state';
import type { IHistoryRun } from '../types';
import { Button, Note, Section } from './common';

/** A release action that a row asks for. */
export type OnRelease = (
  action: ReleaseAction,
  run: IHistoryRun,
  alias?: string
) => void;

/**
 * Earlier handovers of this notebook, from MLflow: each version's verify and shadow
 * state, Promote where both passed, Roll back on the version an alias points at.
 */
export function History(props: {
  state: Readonly<IHandoverState>;
  onRefresh: () => void;
  onRelease: OnRelease;
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
              <th>shadow</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {history.runs.map(run => (
              <HistoryRow
                key={run.run_id}
                run={run}
                busy={state.releaseBusy}
                onRelease={props.onRelease}
              />
            ))}
          </tbody>
        </table>
      </div>
    );
  }
  return (
    <Section title="History" testid="handover-history">
      {body}
      {state.releaseError && (
        <Note kind="error">
          <span data-testid="release-error">{state.releaseError}</span>
        </Note>
      )}
      {state.releaseMessage && (
        <Note>
          <span data-testid="release-message">{state.releaseMessage}</span>
        </Note>
      )}
      <Button
        label="Refresh"
        testid="history-refresh"
        onClick={props.onRefresh}
        disabled={state.historyLoading}
      />
    </Section>
  );
}

function HistoryRow(props: {
  run: IHistoryRun;
  busy: boolean;
  onRelease: OnRelease;
}): JSX.Element {
  const { run, busy, onRelease } = props;
  const label = run.version
    ? `${run.name} v${run.version}`
    : run.run_id.slice(0, 8);
  const shadow = run.shadow ?? 'not-run';
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
        {(run.aliases ?? []).map(alias => (
          <span
            key={alias}
            className="jp-HandoverPanel-alias"
            data-testid="history-alias"
          >
            @{alias}
          </span>
        ))}
      </td>
      <td>{run.created ? run.created.slice(0, 16).replace('T', ' ') : ''}</td>
      <td className={`jp-HandoverPanel-verified-${run.verified}`}>
        {run.verified}
      </td>
      <td
        className={`jp-HandoverPanel-verified-${shadow}`}
        title={run.shadow_against ? `against ${run.shadow_against}` : ''}
      >
        {shadow}
      </td>
      <td>
        {canPromote(run) && (
          <Button
            label="Promote"
            testid="history-promote"
            title={`move @champion to ${label} (verify and shadow passed)`}
            disabled={busy}
            onClick={() => onRelease('promote', run)}
          />
        )}
        {rollbackAliases(run).map(alias => (
          <Button
            key={alias}
            label={`Roll back @${alias}`}
            testid="history-rollback"
            title={`move @${alias} back to its former verified holder`}
            disabled={busy}
            onClick={() => onRelease('rollback', run, alias)}
          />
        ))}
      </td>
    </tr>
  );
}
