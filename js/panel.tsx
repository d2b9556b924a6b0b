import { ReactWidget, SidePanel, UseSignal } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';
import React from 'react';

import { HandoverPanel } from './components/HandoverPanel';
import { ITagCommand } from './components/TaggedCells';
import { handoverIcon } from './icon';
import { HandoverModel } from './model';

/**
 * Id of the sidebar widget (its tab is `li[data-id="jupyter-handover-panel"]`).
 */
export const PANEL_ID = 'jupyter-handover-panel';

/**
 * The sections as one React tree, re-rendered on the model's `stateChanged` (and on
 * changes of the tag command); tells the model when it is shown.
 */
export class HandoverView extends ReactWidget {
  constructor(
    private _model: HandoverModel,
    private _commands: CommandRegistry,
    private _tagCommand: string,
    private _packageCommand: string
  ) {
    super();
    this.addClass('jp-HandoverPanel');
    this.title.label = 'Active notebook';
  }

  render(): JSX.Element {
    return (
      <UseSignal
        signal={this._model.stateChanged}
        initialArgs={this._model.state}
      >
        {(_, state) => (
          <UseSignal
            signal={this._commands.commandChanged}
            shouldUpdate={(_, change) =>
              change.id === this._tagCommand || change.type === 'many-changed'
            }
          >
            {() => (
              <HandoverPanel
                model={this._model}
                state={state ?? this._model.state}
                tagCommand={this._tagCommandState()}
                onPackage={() =>
                  void this._commands.execute(this._packageCommand)
                }
              />
            )}
          </UseSignal>
        )}
      </UseSignal>
    );
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._model.setVisible(true);
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._model.setVisible(this.isVisible);
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this._model.setVisible(false);
  }

  private _tagCommandState(): ITagCommand {
    const id = this._tagCommand;
    return {
      label: this._commands.label(id),
      enabled: this._commands.isEnabled(id),
      execute: () => void this._commands.execute(id)
    };
  }
}

/**
 * The left-sidebar panel.
 */
export function createHandoverPanel(
  model: HandoverModel,
  commands: CommandRegistry,
  tagCommand: string,
  packageCommand: string
): SidePanel {
  const panel = new SidePanel();
  panel.id = PANEL_ID;
  panel.title.icon = handoverIcon;
  panel.title.caption = 'Handover';
  const heading = new Widget({ node: document.createElement('h2') });
  heading.addClass('jp-HandoverPanel-heading');
  heading.node.textContent = 'Handover';
  panel.header.addWidget(heading);
  panel.addWidget(
    new HandoverView(model, commands, tagCommand, packageCommand)
  );
  return panel;
}
