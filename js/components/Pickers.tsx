import React from 'react';

import type { HandoverModel } from '../model';
import type { IHandoverState } from '../state';
import { Note, Picker, Section } from './common';

/**
 * The model, training frame and target pickers. The pickers keep their place in the
 * tree whatever the notes around them say, so a status refresh never replaces them.
 */
export function Pickers(props: {
  state: Readonly<IHandoverState>;
  model: HandoverModel;
}): JSX.Element | null {
  const { state, model } = props;
  if (!state.notebookPath) {
    return <Section title="Model and data" testid="handover-model" />;
  }
  return (
    <Section title="Model and data" testid="handover-model">
      <PickersBody state={state} model={model} />
    </Section>
  );
}

/** Why there is nothing to pick yet, or `null` when the kernel named models. */
function pickersNote(state: Readonly<IHandoverState>): JSX.Element | null {
  if (state.kernel === 'none' || state.kernel === 'dead') {
    return (
      <Note>
        No kernel: start the kernel and run the training cells; the fitted
        models and training frames are read from it.
      </Note>
    );
  }
  if (state.statusError) {
    return (
      <Note kind="error">
        The kernel could not say what would be packaged: {state.statusError}
      </Note>
    );
  }
  if (!state.status) {
    return (
      <Note kind="busy">
        Asking the kernel (silently) for fitted models and training frames…
      </Note>
    );
  }
  if (Object.keys(state.status.models).length === 0) {
    return (
      <Note>
        No fitted model in the kernel yet: run the cells that train it (a model
        with predict() that is fitted).
      </Note>
    );
  }
  return null;
}

function PickersBody(props: {
  state: Readonly<IHandoverState>;
  model: HandoverModel;
}): JSX.Element {
  const { state, model } = props;
  const status = state.status;
  const note = pickersNote(state);
  if (note || !status) {
    return note ?? <></>;
  }
  const models = Object.entries(status.models);
  const frames = (state.model && status.frames[state.model]) || [];
  const columns = (state.train && status.columns[state.train]) || [];
  return (
    <>
      <Picker
        label="Model"
        testid="model-select"
        options={models.map(([name, cls]) => ({
          value: name,
          label: `${name} (${cls})`
        }))}
        value={state.model}
        onChange={value => model.selectModel(value)}
      />
      {frames.length === 0 ? (
        <Note kind="error">
          No DataFrame in the kernel matches the features of {state.model}: keep
          the training frame in a variable.
        </Note>
      ) : (
        <>
          <Picker
            label="Training frame"
            testid="train-select"
            options={frames.map(name => ({ value: name, label: name }))}
            value={state.train}
            onChange={value => model.selectTrain(value)}
          />
          <Picker
            label="Target column"
            testid="target-select"
            options={columns.map(name => ({ value: name, label: name }))}
            value={state.target}
            onChange={value => model.selectTarget(value)}
            empty="(none: not in the frame)"
          />
        </>
      )}
      {status.default.error && models.length > 1 && (
        <Note>{status.default.error}</Note>
      )}
    </>
  );
}
