import React from 'react';

import type { HandoverModel } from '../model';
import type { IHandoverState } from '../state';
import { ContractPreview } from './ContractPreview';
import { Environment } from './Environment';
import { History } from './History';
import { NotebookHeader } from './NotebookHeader';
import { PackageSection } from './PackageSection';
import { Pickers } from './Pickers';
import { ITagCommand, TaggedCells } from './TaggedCells';
import { VerifySection } from './VerifySection';

/**
 * All sections of the sidebar, in order, for one state of the model.
 */
export function HandoverPanel(props: {
  model: HandoverModel;
  state: Readonly<IHandoverState>;
  tagCommand: ITagCommand;
  onPackage: () => void;
}): JSX.Element {
  const { model, state } = props;
  return (
    <>
      <NotebookHeader state={state} />
      <TaggedCells
        state={state}
        tagCommand={props.tagCommand}
        onJump={index => model.jumpToCell(index)}
      />
      <Pickers state={state} model={model} />
      <ContractPreview state={state} />
      <Environment state={state} />
      <PackageSection state={state} onPackage={props.onPackage} />
      <VerifySection
        state={state}
        onVerify={() => void model.verify()}
        onCancel={() => void model.cancelVerify()}
      />
      <History
        state={state}
        onRefresh={() => void model.refreshHistory()}
        onRelease={(action, run, alias) =>
          void model.release(action, run, alias)
        }
      />
    </>
  );
}
