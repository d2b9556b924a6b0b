/**
 * One question each to the kernel (silently) or to the server extension, answered as
 * the state change it makes. Errors become state, never exceptions.
 */
import type { Kernel } from '@jupyterlab/services';

import { handoverCode } from './kernel';
import type { IHandoverServices, IHandoverState } from './state';
import type {
  IContract,
  IHistory,
  IKernelStatus,
  IServerConfig
} from './types';

type Change = Partial<IHandoverState>;

const NO_STATUS =
  'the kernel answered without a status: is jupyter_handover installed in this kernel?';

/** `%handover status --json` for the tag, as the code the kernel runs. */
export function statusCode(tag: string): string {
  return handoverCode(['status', '--json', '--tag', tag]);
}

/**
 * What would be packaged: the status (when the kernel answered one) and the change.
 */
export async function queryStatus(
  services: IHandoverServices,
  kernel: Kernel.IKernelConnection,
  tag: string
): Promise<{ status: IKernelStatus | null; change: Change }> {
  try {
    const result = await services.execute<IKernelStatus>(
      kernel,
      statusCode(tag)
    );
    const status = result.error ? null : result.data;
    const statusError = status ? null : (result.error ?? NO_STATUS);
    return { status, change: { statusMs: result.elapsed, statusError } };
  } catch (reason) {
    return { status: null, change: { statusError: String(reason) } };
  }
}

/** The inferred contract of `train` without `target` (`%handover contract`). */
export async function queryContract(
  services: IHandoverServices,
  kernel: Kernel.IKernelConnection,
  train: string,
  target: string | null
): Promise<Change> {
  const args = ['contract', train, '--json'];
  if (target) {
    args.push('--target', target);
  }
  try {
    const result = await services.execute<IContract>(
      kernel,
      handoverCode(args)
    );
    return { contract: result.data, contractError: result.error };
  } catch (reason) {
    return { contract: null, contractError: String(reason) };
  }
}

/** The notebook's earlier handovers, from MLflow through the server extension. */
export async function queryHistory(
  services: IHandoverServices,
  path: string,
  trackingUri: string
): Promise<Change> {
  const query = new URLSearchParams({ path });
  if (trackingUri) {
    query.set('tracking_uri', trackingUri);
  }
  try {
    const history = await services.request<IHistory>(`history?${query}`);
    return { history, historyLoading: false, historyError: null };
  } catch (reason) {
    return { historyLoading: false, historyError: String(reason) };
  }
}

/** The server extension's configuration. */
export async function queryServerConfig(
  services: IHandoverServices
): Promise<Change> {
  try {
    const server = await services.request<IServerConfig>('config');
    return { server, error: null };
  } catch (reason) {
    return { server: null, error: String(reason) };
  }
}
