import type { Kernel, KernelMessage } from '@jupyterlab/services';

import type { IPackageProgress } from './types';

/**
 * MIME type of the `%handover ... --json` displays.
 */
export const HANDOVER_MIME = 'application/vnd.jupyter-handover+json';

/**
 * What a silent execution produced.
 */
export interface ISilentResult<T> {
  /** The last `application/vnd.jupyter-handover+json` display that is not progress. */
  data: T | null;
  /** The error raised by the code, as `ename: evalue`, if any. */
  error: string | null;
  /** Milliseconds from the request to the kernel's reply. */
  elapsed: number;
}

/**
 * Runs code silently in a kernel; the model gets it injected (tests pass a fake).
 */
export type SilentExecutor = <T>(
  kernel: Kernel.IKernelConnection,
  code: string,
  onProgress?: (progress: IPackageProgress) => void
) => Promise<ISilentResult<T>>;

/**
 * A Python string literal of `value` (JSON strings are Python literals).
 */
export function pyString(value: string): string {
  return JSON.stringify(value);
}

/**
 * Whether a display payload is a progress message (`{"type": "progress", "steps": [...]}`).
 */
export function isProgress(payload: unknown): payload is IPackageProgress {
  if (typeof payload !== 'object' || payload === null) {
    return false;
  }
  const value = payload as Partial<IPackageProgress>;
  return value.type === 'progress' && Array.isArray(value.steps);
}

/**
 * Our JSON payload of a `display_data`, `update_display_data` or `execute_result`
 * message, `undefined` for any other message or MIME type.
 */
export function handoverPayload(msg: KernelMessage.IIOPubMessage): unknown {
  const type = msg.header.msg_type;
  if (
    type !== 'display_data' &&
    type !== 'update_display_data' &&
    type !== 'execute_result'
  ) {
    return undefined;
  }
  const content = msg.content as KernelMessage.IDisplayDataMsg['content'];
  return content.data?.[HANDOVER_MIME];
}

/**
 * Run `code` in `kernel` silently: no execution count, no history, no output in the
 * notebook. Our JSON displays and errors are read from the iopub messages of this
 * request only: progress displays (first shown, then updated under the same display id)
 * go to `onProgress`, the last other display is the result.
 */
export const executeSilently: SilentExecutor = async <T>(
  kernel: Kernel.IKernelConnection,
  code: string,
  onProgress?: (progress: IPackageProgress) => void
): Promise<ISilentResult<T>> => {
  const started = performance.now();
  const future = kernel.requestExecute({
    code,
    silent: true,
    store_history: false,
    allow_stdin: false,
    stop_on_error: false
  });
  let data: T | null = null;
  let error: string | null = null;
  future.onIOPub = (msg: KernelMessage.IIOPubMessage): void => {
    if (msg.header.msg_type === 'error') {
      const content = (msg as KernelMessage.IErrorMsg).content;
      error = `${content.ename}: ${content.evalue}`;
      return;
    }
    const payload = handoverPayload(msg);
    if (payload === undefined) {
      return;
    }
    if (isProgress(payload)) {
      onProgress?.(payload);
    } else {
      data = payload as T;
    }
  };
  const reply = await future.done;
  if (!error && reply && reply.content.status === 'error') {
    const content = reply.content as KernelMessage.IReplyErrorContent;
    error = `${content.ename}: ${content.evalue}`;
  }
  if (!error && reply && reply.content.status === 'aborted') {
    error = 'the kernel aborted the request';
  }
  return { data, error, elapsed: performance.now() - started };
};

/**
 * Python that loads the extension quietly and runs one `%handover` line, with the names
 * it uses removed again from the user's namespace.
 */
export function handoverCode(args: string[]): string {
  const line = pyString(args.map(shellQuote).join(' '));
  return [
    'def _jupyter_handover_panel():',
    '    ip = get_ipython()',
    "    if 'handover' not in ip.magics_manager.magics['line']:",
    "        ip.run_line_magic('load_ext', 'jupyter_handover')",
    `    ip.run_line_magic('handover', ${line})`,
    'try:',
    '    _jupyter_handover_panel()',
    'finally:',
    '    del _jupyter_handover_panel'
  ].join('\n');
}

/**
 * Quote one argument for `shlex.split` (what the magic parses its line with).
 */
export function shellQuote(arg: string): string {
  if (/^[\w@%+=:,./-]+$/.test(arg)) {
    return arg;
  }
  return "'" + arg.replace(/'/g, "'\"'\"'") + "'";
}
