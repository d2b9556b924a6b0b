import React from 'react';

import type { IHandoverState } from '../state';
import type { IVerifyJob } from '../types';
import { Button, Note, Section } from './common';

/**
 * The Verify button and the job's progress and report.
 */
export function VerifySection(props: {
  state: Readonly<IHandoverState>;
  onVerify: () => void;
  onCancel: () => void;
}): JSX.Element {
  const { state } = props;
  const result = state.packageResult;
  const ref = result?.model_uri ?? result?.artifact_path;
  if (!ref || state.packagePhase !== 'done') {
    return (
      <Section title="Verify" testid="handover-verify">
        <Note>
          Package first; then replay the golden examples in a clean virtualenv
          (runs in the Jupyter server, the kernel stays free).
        </Note>
      </Section>
    );
  }
  const running = state.verifyPhase === 'running';
  const job = state.verifyJob;
  const ended = state.verifyPhase === 'done' || state.verifyPhase === 'failed';
  return (
    <Section title="Verify" testid="handover-verify">
      <Button
        label={running ? 'Verifying…' : 'Verify'}
        testid="verify-button"
        onClick={props.onVerify}
        disabled={running}
        title={`Verify ${ref} in a clean virtualenv`}
      />
      {running && state.verifyJob && (
        <Button
          label="Cancel"
          testid="verify-cancel"
          onClick={props.onCancel}
          title="Stop this verification (its processes in the server are killed)"
        />
      )}
      {job && (
        <ol className="jp-HandoverPanel-steps">
          {job.steps.map((step, i) => (
            <li key={i} className="jp-HandoverPanel-step">
              {`${step.step}: ${step.message}`}
              <span className="jp-HandoverPanel-secs">
                {` ${step.seconds.toFixed(1)} s`}
              </span>
            </li>
          ))}
        </ol>
      )}
      {ended && <VerifyOutcome job={job} error={state.verifyError} />}
    </Section>
  );
}

function VerifyOutcome(props: {
  job: IVerifyJob | null;
  error: string | null;
}): JSX.Element {
  const { job, error } = props;
  const passed = job?.state === 'passed';
  const cancelled = job?.state === 'cancelled';
  const failedStep = job?.report?.failed_step;
  return (
    <>
      <p
        className={
          passed ? 'jp-HandoverPanel-passed' : 'jp-HandoverPanel-error'
        }
        data-testid="verify-state"
      >
        {passed
          ? `passed: ${job?.report?.rows ?? 0} golden rows match (${job?.seconds.toFixed(1)} s)`
          : cancelled
            ? 'cancelled'
            : `failed${failedStep ? ` at ${failedStep}` : ''}`}
      </p>
      {(job?.report?.problems ?? []).map((problem, i) => (
        <Note key={i} kind={problem.startsWith('warning') ? 'hint' : 'error'}>
          {problem}
        </Note>
      ))}
      {error && !cancelled && <Note kind="error">{error}</Note>}
    </>
  );
}
