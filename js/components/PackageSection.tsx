import React from 'react';

import { runLink } from '../helpers';
import type { IHandoverState } from '../state';
import type { IPackageResult } from '../types';
import { Button, Note, Section } from './common';
import { StepList } from './StepList';

/**
 * The Package button, its step-by-step progress and the result.
 */
export function PackageSection(props: {
  state: Readonly<IHandoverState>;
  onPackage: () => void;
}): JSX.Element {
  const { state } = props;
  const running = state.packagePhase === 'running';
  const ready =
    state.kernel !== 'none' && state.kernel !== 'dead' && !!state.model;
  const result = state.packageResult;
  return (
    <Section title="Package" testid="handover-package">
      <Button
        label={running ? 'Packaging…' : 'Package notebook'}
        testid="package-button"
        onClick={props.onPackage}
        accept={true}
        disabled={running || !ready}
        title="Save the notebook, build the handover artifact in the kernel and log it to MLflow"
      />
      {!ready && !running && state.notebookPath && (
        <Note>Needs a running kernel with a fitted model.</Note>
      )}
      {state.packagePhase !== 'idle' && <StepList state={state} />}
      {state.packageError && (
        <Note kind="error">Packaging failed: {state.packageError}</Note>
      )}
      {result && state.packagePhase === 'done' && (
        <PackageResult
          result={result}
          uiUrl={state.settings.trackingUiUrl || state.server?.ui_url || null}
        />
      )}
    </Section>
  );
}

function PackageResult(props: {
  result: IPackageResult;
  uiUrl: string | null;
}): JSX.Element {
  const { result } = props;
  const link = runLink(result, props.uiUrl);
  return (
    <>
      <dl className="jp-HandoverPanel-facts">
        {result.model_uri && (
          <>
            <dt>Model URI</dt>
            <dd data-testid="model-uri">{result.model_uri}</dd>
          </>
        )}
        {result.run_id && (
          <>
            <dt>MLflow run</dt>
            <dd data-testid="run-id">
              {link ? (
                <a
                  href={link}
                  target="_blank"
                  rel="noopener"
                  data-testid="run-link"
                >
                  {result.run_id}
                </a>
              ) : (
                `${result.run_id} (${result.tracking_uri ?? ''})`
              )}
            </dd>
          </>
        )}
        {result.artifact_path && (
          <>
            <dt>Artifact</dt>
            <dd data-testid="artifact-path">{result.artifact_path}</dd>
          </>
        )}
      </dl>
      {(result.warnings ?? []).map((warning, i) => (
        <Note key={i}>warning: {warning}</Note>
      ))}
    </>
  );
}
