import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { tagIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';

import { handoverIcon } from './icon';
import { executeSilently } from './kernel';
import { HandoverModel } from './model';
import { NotebookHandle } from './notebook';
import { createHandoverPanel } from './panel';
import { requestAPI } from './request';
import { readTags, toggleTag } from './tags';

/**
 * Ids of the extension's commands.
 */
export namespace CommandIDs {
  export const open = 'jupyter-handover:open';
  export const tagCell = 'jupyter-handover:tag-cell';
  export const packageNotebook = 'jupyter-handover:package';
}

const PLUGIN_ID = 'jupyter-handover:plugin';

/**
 * Rank of the sidebar tab: after the table of contents (400).
 */
const SIDEBAR_RANK = 450;

/**
 * The jupyter-handover sidebar, its commands and its settings.
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'A sidebar that hands a notebook model over: tagged cells, model and data, contract, environment, package, verify and history.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette, ILayoutRestorer, ILabShell, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    labShell: ILabShell | null,
    settingRegistry: ISettingRegistry | null
  ) => {
    const { commands, shell } = app;
    const model = new HandoverModel({
      request: requestAPI,
      execute: executeSilently
    });

    const openPanel = (): void => {
      (labShell ?? shell).activateById(panel.id);
    };
    addCommands(commands, tracker, model, openPanel);

    const panel = createHandoverPanel(
      model,
      commands,
      CommandIDs.tagCell,
      CommandIDs.packageNotebook
    );
    shell.add(panel, 'left', { rank: SIDEBAR_RANK });
    restorer?.add(panel, panel.id);

    commands.addCommand(CommandIDs.open, {
      label: 'Handover: open panel',
      caption: 'Show the Handover sidebar',
      execute: openPanel
    });

    for (const command of [
      CommandIDs.open,
      CommandIDs.tagCell,
      CommandIDs.packageNotebook
    ]) {
      palette?.addItem({ command, category: 'Handover' });
    }

    const follow = (notebook: NotebookPanel | null): void => {
      model.setNotebook(notebook ? new NotebookHandle(notebook) : null);
    };
    tracker.currentChanged.connect((_, notebook) => follow(notebook));
    tracker.activeCellChanged.connect(() => {
      commands.notifyCommandChanged(CommandIDs.tagCell);
    });
    model.stateChanged.connect(() => {
      commands.notifyCommandChanged(CommandIDs.packageNotebook);
    });
    follow(tracker.currentWidget);

    if (settingRegistry) {
      followSettings(settingRegistry, model);
    }

    void model.fetchServerConfig();
  }
};

/**
 * The tag-cell and package commands (the open command needs the panel).
 */
function addCommands(
  commands: CommandRegistry,
  tracker: INotebookTracker,
  model: HandoverModel,
  openPanel: () => void
): void {
  commands.addCommand(CommandIDs.tagCell, {
    label: args => (args.toolbar ? '' : 'Handover: tag cell for inference'),
    caption: `Toggle the inference tag ("${model.state.tagName}") on the active cell`,
    icon: args => (args.toolbar ? tagIcon : undefined),
    isEnabled: () => tracker.activeCell !== null,
    execute: () => {
      const cell = tracker.activeCell;
      if (!cell) {
        return;
      }
      const tags = toggleTag(
        readTags(cell.model.getMetadata('tags')),
        model.state.tagName
      );
      if (tags.length > 0) {
        cell.model.setMetadata('tags', tags);
      } else {
        cell.model.deleteMetadata('tags');
      }
      model.refresh();
    }
  });

  commands.addCommand(CommandIDs.packageNotebook, {
    label: args => (args.toolbar ? 'Handover' : 'Handover: package notebook'),
    caption:
      'Save the notebook and build its handover artifact in the kernel (shown in the Handover panel)',
    icon: args => (args.toolbar ? handoverIcon : undefined),
    isEnabled: () =>
      tracker.currentWidget !== null && model.state.packagePhase !== 'running',
    execute: () => {
      openPanel();
      return model.package();
    }
  });
}

/**
 * Apply the user settings to the model, now and whenever they change.
 */
function followSettings(
  registry: ISettingRegistry,
  model: HandoverModel
): void {
  const apply = (settings: ISettingRegistry.ISettings): void => {
    model.setTagName(settings.get('tagName').composite as string);
    model.setSettings({
      trackingUri: settings.get('trackingUri').composite as string,
      experiment: settings.get('experiment').composite as string,
      examples: settings.get('examples').composite as number,
      trackingUiUrl: settings.get('trackingUiUrl').composite as string
    });
  };
  registry
    .load(PLUGIN_ID)
    .then(settings => {
      apply(settings);
      settings.changed.connect(apply);
    })
    .catch(reason => {
      console.error('Failed to load settings for jupyter-handover.', reason);
    });
}

export default plugin;
