import React from 'react';

import type { IHandoverState } from '../state';
import type { IContractColumn } from '../types';
import { Note, Section } from './common';

/** The heights (0-1) of a column's baseline bars: histogram counts or frequencies. */
export function baselineBars(column: IContractColumn): number[] {
  const base = column.baseline ?? {};
  let counts: number[] = [];
  if (base.histogram?.counts?.length) {
    counts = base.histogram.counts;
  } else if (base.frequencies) {
    counts = Object.values(base.frequencies).slice(0, 20);
  }
  const top = Math.max(0, ...counts) || 1;
  return counts.map(count => count / top);
}

/** The categories (first four) or the range of a column, in a few words. */
export function columnDetail(column: IContractColumn): string {
  if (column.categories && column.categories.length > 0) {
    const cats = column.categories.map(String);
    return cats.slice(0, 4).join(', ') + (cats.length > 4 ? ', …' : '');
  }
  if (column.min !== undefined && column.min !== null) {
    const fmt = (v: unknown): string =>
      typeof v === 'number' ? String(Number(v.toPrecision(4))) : String(v);
    return `${fmt(column.min)} … ${fmt(column.max)}`;
  }
  return '';
}

/**
 * A tiny bar chart of a column's drift baseline.
 */
export function Histogram(props: {
  column: IContractColumn;
}): JSX.Element | null {
  const bars = baselineBars(props.column);
  if (bars.length === 0) {
    return null;
  }
  const width = 64;
  const height = 16;
  const bar = width / bars.length;
  return (
    <svg
      width={width}
      height={height}
      className="jp-HandoverPanel-hist"
      role="img"
    >
      {bars.map((value, i) => (
        <rect
          key={i}
          x={(i * bar).toFixed(1)}
          y={(height - value * height).toFixed(1)}
          width={Math.max(bar - 1, 1).toFixed(1)}
          height={(value * height).toFixed(1)}
        />
      ))}
    </svg>
  );
}

/**
 * The contract preview: one row per column, with its baseline histogram.
 */
export function ContractPreview(props: {
  state: Readonly<IHandoverState>;
}): JSX.Element {
  const { state } = props;
  const contract = state.contract;
  let body: React.ReactNode;
  if (state.contractError) {
    body = (
      <Note kind="error">
        Cannot infer the contract of {state.train}: {state.contractError}
      </Note>
    );
  } else if (!contract) {
    body = state.contractLoading ? (
      <Note kind="busy">Inferring the contract…</Note>
    ) : (
      <Note>Pick a training frame to preview its contract.</Note>
    );
  } else {
    body = (
      <>
        <p className="jp-HandoverPanel-hint">
          {`${contract.columns.length} input columns of ${state.train}`}
          {contract.rows ? `, ${contract.rows} rows` : ''}
          {state.contractLoading ? ' (updating…)' : ''}
        </p>
        <div className="jp-HandoverPanel-scroll">
          <table
            className="jp-HandoverPanel-contract"
            data-testid="contract-table"
          >
            <tbody>
              {contract.columns.map(column => (
                <ContractRow key={column.name} column={column} />
              ))}
            </tbody>
          </table>
        </div>
      </>
    );
  }
  return (
    <Section title="Contract" testid="handover-contract">
      {body}
    </Section>
  );
}

function ContractRow(props: { column: IContractColumn }): JSX.Element {
  const { column } = props;
  const nulls = column.nullable
    ? `${((column.null_fraction ?? 0) * 100).toFixed(1)}% null`
    : 'no nulls';
  const detail = columnDetail(column);
  return (
    <tr data-testid="contract-column" title={detail}>
      <td>
        <code>{column.name}</code>
        <div className="jp-HandoverPanel-sub">{`${column.dtype} · ${nulls}`}</div>
        <div className="jp-HandoverPanel-sub jp-HandoverPanel-detail">
          {detail}
        </div>
      </td>
      <td className="jp-HandoverPanel-histcell">
        <Histogram column={column} />
      </td>
    </tr>
  );
}
