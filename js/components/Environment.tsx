import React from 'react';

import type { IHandoverState } from '../state';
import { Note, Section } from './common';

/**
 * Python, the requirements of the inference path, the lock state.
 */
export function Environment(props: {
  state: Readonly<IHandoverState>;
}): JSX.Element {
  const { state } = props;
  const env = state.status?.environment;
  if (!env) {
    return (
      <Section title="Environment" testid="handover-environment">
        <Note>Known once the kernel answered.</Note>
      </Section>
    );
  }
  const reqs = env.requirements ? Object.entries(env.requirements) : null;
  const result = state.packageResult;
  let lock = env.lock;
  if (result && result.lock_hashes !== undefined) {
    lock = result.lock_hashes
      ? 'hashed (last package)'
      : 'exact pins, no hashes (last package)';
  }
  return (
    <Section title="Environment" testid="handover-environment">
      <dl className="jp-HandoverPanel-facts">
        <dt>Python</dt>
        <dd data-testid="env-python">{env.python}</dd>
        <dt>Packages the model needs</dt>
        <dd data-testid="env-requirements">
          {reqs ? String(reqs.length) : 'unknown (no model)'}
        </dd>
        <dt>Lock</dt>
        <dd data-testid="env-lock">
          {lock + (env.lock_tool ? ` · ${env.lock_tool}` : '')}
        </dd>
      </dl>
      {reqs && reqs.length > 0 && (
        <details>
          <summary>requirements.in</summary>
          <pre className="jp-HandoverPanel-pre">
            {reqs.map(([k, v]) => `${k}==${v}`).join('\n')}
          </pre>
        </details>
      )}
      {result?.lock_message && !result.lock_hashes && (
        <Note>{result.lock_message}</Note>
      )}
    </Section>
  );
}
