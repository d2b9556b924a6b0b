import { SidePanel } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';

import { handoverIcon } from './icon';
import { HandoverModel, IHandoverState } from './model';

/**
 * Id of the sidebar widget (its tab is `li[data-id="jupyter-handover-panel"]`).
 */
export const PANEL_ID = 'jupyter-handover-panel';

/**
 * Renders the model's state; fetches nothing.
 */
export class HandoverView extends Widget {
  constructor(
    private _model: HandoverModel,
    private _commands: CommandRegistry,
    private _tagCommand: string
  ) {
    super();
    this.addClass('jp-HandoverPanel');
    this.title.label = 'Active notebook';
    this._model.stateChanged.connect(this._render, this);
    this._commands.commandChanged.connect(this._onCommandChanged, this);
    this._render();
  }

  dispose(): void {
    this._model.stateChanged.disconnect(this._render, this);
    this._commands.commandChanged.disconnect(this._onCommandChanged, this);
    super.dispose();
  }

  private _onCommandChanged(
    _: CommandRegistry,
    change: CommandRegistry.ICommandChangedArgs
  ): void {
    if (change.id === this._tagCommand) {
      this._updateButton();
    }
  }

  private _updateButton(): void {
    if (this._button) {
      this._button.disabled = !this._commands.isEnabled(this._tagCommand);
    }
  }

  private _button: HTMLButtonElement | null = null;

  private _render(): void {
    const state: Readonly<IHandoverState> = this._model.state;
    const node = this.node;
    node.textContent = '';

    const facts = document.createElement('dl');
    facts.className = 'jp-HandoverPanel-facts';
    const add = (key: string, label: string, value: string): void => {
      const dt = document.createElement('dt');
      dt.textContent = label;
      const dd = document.createElement('dd');
      dd.dataset.handover = key;
      dd.textContent = value;
      facts.append(dt, dd);
    };
    add('notebook', 'Notebook', state.notebookPath ?? 'no notebook open');
    add(
      'tagged-cells',
      `Cells tagged “${state.tagName}”`,
      String(state.taggedCells)
    );
    add(
      'tracking-uri',
      'Tracking URI',
      state.trackingUri || state.server?.tracking_uri || '…'
    );
    add('server-version', 'Server extension', state.server?.version ?? '…');
    node.appendChild(facts);

    if (state.error) {
      const error = document.createElement('p');
      error.className = 'jp-HandoverPanel-error';
      error.textContent = `Server extension unreachable: ${state.error}`;
      node.appendChild(error);
    }

    const button = document.createElement('button');
    button.className = 'jp-mod-styled jp-mod-accept';
    button.dataset.handover = 'tag-cell';
    button.textContent = 'Tag active cell';
    button.title = this._commands.label(this._tagCommand);
    button.onclick = () => {
      void this._commands.execute(this._tagCommand);
    };
    this._button = button;
    this._updateButton();
    node.appendChild(button);

    const hint = document.createElement('p');
    hint.className = 'jp-HandoverPanel-hint';
    hint.textContent =
      'Tagged cells are exported, in notebook order, as the inference code of the handover artifact.';
    node.appendChild(hint);
  }
}

/**
 * The left-sidebar panel.
 */
export function createHandoverPanel(
  model: HandoverModel,
  commands: CommandRegistry,
  tagCommand: string
): SidePanel {
  const panel = new SidePanel();
  panel.id = PANEL_ID;
  panel.title.icon = handoverIcon;
  panel.title.caption = 'Handover';
  const heading = new Widget({ node: document.createElement('h2') });
  heading.addClass('jp-HandoverPanel-heading');
  heading.node.textContent = 'Handover';
  panel.header.addWidget(heading);
  panel.addWidget(new HandoverView(model, commands, tagCommand));
  return panel;
}
