import { Kernel, KernelMessage } from '@jupyterlab/services';

/**
 * MIME type of the `%handover ... --json` displays.
 */
export const HANDOVER_MIME = 'application/vnd.jupyter-handover+json';

/**
 * What a silent execution produced.
 */
export interface ISilentResult<T> {
  /** The last `application/vnd.jupyter-handover+json` display, if any. */
  data: T | null;
  /** The error raised by the code, as `ename: evalue`, if any. */
  error: string | null;
  /** Milliseconds from the request to the kernel's reply. */
  elapsed: number;
}

/**
 * A Python string literal of `value` (JSON strings are Python literals).
 */
export function pyString(value: string): string {
  return JSON.stringify(value);
}

/**
 * Run `code` in `kernel` silently: no execution count, no history, no output in the
 * notebook. Our JSON displays and errors are read from the iopub messages of this
 * request only; `onLine` receives each line the code prints on stdout/stderr.
 */
export async function executeSilently<T>(
  kernel: Kernel.IKernelConnection,
  code: string,
  onLine?: (line: string) => void
): Promise<ISilentResult<T>> {
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
  let pending = '';
  future.onIOPub = (msg: KernelMessage.IIOPubMessage): void => {
    if (
      KernelMessage.isDisplayDataMsg(msg) ||
      KernelMessage.isExecuteResultMsg(msg)
    ) {
      const payload = msg.content.data[HANDOVER_MIME];
      if (payload !== undefined) {
        data = payload as unknown as T;
      }
    } else if (KernelMessage.isStreamMsg(msg)) {
      pending += msg.content.text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      if (onLine) {
        lines.forEach(onLine);
      }
    } else if (KernelMessage.isErrorMsg(msg)) {
      error = `${msg.content.ename}: ${msg.content.evalue}`;
    }
  };
  const reply = await future.done;
  if (pending && onLine) {
    onLine(pending);
  }
  if (!error && reply && reply.content.status === 'error') {
    const content = reply.content as KernelMessage.IReplyErrorContent;
    error = `${content.ename}: ${content.evalue}`;
  }
  if (!error && reply && reply.content.status === 'aborted') {
    error = 'the kernel aborted the request';
  }
  return { data, error, elapsed: performance.now() - started };
}

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
