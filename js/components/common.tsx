/**
 * Small building blocks shared by the sections of the panel.
 */
import React from 'react';

/** One section of the panel: a title over its body. */
export function Section(props: {
  title: string;
  testid: string;
  children?: React.ReactNode;
}): JSX.Element {
  return (
    <div className="jp-HandoverPanel-section" data-testid={props.testid}>
      <h3 className="jp-HandoverPanel-title">{props.title}</h3>
      {props.children}
    </div>
  );
}

/** A line of text: a hint, an error or something in progress. */
export function Note(props: {
  kind?: 'hint' | 'error' | 'busy';
  children: React.ReactNode;
}): JSX.Element {
  return (
    <p className={`jp-HandoverPanel-${props.kind ?? 'hint'}`}>
      {props.children}
    </p>
  );
}

/** A JupyterLab-styled button. */
export function Button(props: {
  label: string;
  testid: string;
  onClick: () => void;
  disabled?: boolean;
  accept?: boolean;
  title?: string;
}): JSX.Element {
  return (
    <button
      className={`jp-mod-styled ${props.accept ? 'jp-mod-accept' : ''} jp-HandoverPanel-button`}
      data-testid={props.testid}
      title={props.title}
      disabled={props.disabled ?? false}
      onClick={props.onClick}
    >
      {props.label}
    </button>
  );
}

/** One choice of a picker. */
export interface IOption {
  value: string;
  label: string;
}

/**
 * A labelled `<select>`; the empty value reads as `null`. React keeps the element across
 * re-renders, so an open dropdown stays open while the state refreshes.
 */
export function Picker(props: {
  label: string;
  testid: string;
  options: IOption[];
  value: string | null;
  onChange: (value: string | null) => void;
  empty?: string;
}): JSX.Element {
  return (
    <label className="jp-HandoverPanel-field">
      {props.label}
      <select
        className="jp-HandoverPanel-select"
        data-testid={props.testid}
        value={props.value ?? ''}
        onChange={event => props.onChange(event.target.value || null)}
      >
        {props.empty !== undefined && <option value="">{props.empty}</option>}
        {props.options.map(option => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
    </label>
  );
}

/** A link that runs `onClick` instead of navigating. */
export function ActionLink(props: {
  onClick: () => void;
  testid?: string;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <a
      className="jp-HandoverPanel-link"
      data-testid={props.testid}
      href="#"
      onClick={event => {
        event.preventDefault();
        props.onClick();
      }}
    >
      {props.children}
    </a>
  );
}
