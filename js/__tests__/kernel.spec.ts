import type { Kernel, KernelMessage } from '@jupyterlab/services';

import {
  executeSilently,
  HANDOVER_MIME,
  handoverCode,
  isProgress,
  shellQuote
} from '../kernel';
import { progressMessages } from './fakes';

/** An iopub message of `type` with `content`. */
function iopub(type: string, content: unknown): KernelMessage.IIOPubMessage {
  return {
    header: { msg_type: type },
    content
  } as unknown as KernelMessage.IIOPubMessage;
}

/** A kernel whose one execution sends `messages`, then replies `reply`. */
function fakeKernel(
  messages: KernelMessage.IIOPubMessage[],
  reply: Record<string, unknown> = { status: 'ok' }
): { kernel: Kernel.IKernelConnection; requests: unknown[] } {
  const requests: unknown[] = [];
  const kernel = {
    requestExecute(content: unknown) {
      requests.push(content);
      const future: {
        onIOPub: (msg: KernelMessage.IIOPubMessage) => void;
        done: Promise<unknown>;
      } = {
        onIOPub: () => undefined,
        done: Promise.resolve().then(() => {
          messages.forEach(msg => future.onIOPub(msg));
          return { content: reply };
        })
      };
      return future;
    }
  } as unknown as Kernel.IKernelConnection;
  return { kernel, requests };
}

const display = (type: string, payload: unknown): KernelMessage.IIOPubMessage =>
  iopub(type, {
    data: { [HANDOVER_MIME]: payload, 'text/plain': 'x' },
    metadata: {},
    transient: { display_id: 'd1' }
  });

describe('executeSilently', () => {
  it('runs silently and passes progress displays and their updates on', async () => {
    const [first, second] = progressMessages();
    const { kernel, requests } = fakeKernel([
      display('display_data', first),
      iopub('stream', { name: 'stdout', text: '[handover 0.1s] export\n' }),
      display('update_display_data', second),
      display('display_data', { status: 'logged' })
    ]);
    const seen: unknown[] = [];
    const result = await executeSilently(kernel, 'code', p => seen.push(p));
    expect(requests).toEqual([
      {
        code: 'code',
        silent: true,
        store_history: false,
        allow_stdin: false,
        stop_on_error: false
      }
    ]);
    expect(seen).toEqual([first, second]);
    expect(result.data).toEqual({ status: 'logged' });
    expect(result.error).toBeNull();
  });

  it('takes the last result display, from execute_result too, and ignores other MIME types', async () => {
    const { kernel } = fakeKernel([
      display('display_data', { n: 1 }),
      display('execute_result', { n: 2 }),
      iopub('display_data', { data: { 'text/html': '<b>x</b>' }, metadata: {} })
    ]);
    const result = await executeSilently(kernel, 'code');
    expect(result.data).toEqual({ n: 2 });
  });

  it('reports the error of the code, or of the reply', async () => {
    const raised = fakeKernel([
      iopub('error', { ename: 'ValueError', evalue: 'bad', traceback: [] })
    ]);
    expect((await executeSilently(raised.kernel, 'c')).error).toBe(
      'ValueError: bad'
    );
    const replied = fakeKernel([], {
      status: 'error',
      ename: 'KeyError',
      evalue: 'x'
    });
    expect((await executeSilently(replied.kernel, 'c')).error).toBe(
      'KeyError: x'
    );
    const aborted = fakeKernel([], { status: 'aborted' });
    expect((await executeSilently(aborted.kernel, 'c')).error).toBe(
      'the kernel aborted the request'
    );
  });
});

describe('isProgress', () => {
  it('knows a progress display from a result', () => {
    expect(isProgress(progressMessages()[0])).toBe(true);
    expect(isProgress({ status: 'logged', steps: [] })).toBe(false);
    expect(isProgress({ type: 'progress' })).toBe(false);
    expect(isProgress(null)).toBe(false);
  });
});

describe('handoverCode', () => {
  it('runs one %handover line and leaves no name behind', () => {
    const code = handoverCode(['contract', 'X train', '--json']);
    expect(code).toContain(
      "ip.run_line_magic('handover', \"contract 'X train' --json\")"
    );
    expect(code.split('\n').pop()).toBe('    del _jupyter_handover_panel');
  });

  it('quotes arguments for shlex', () => {
    expect(shellQuote('sqlite:///a/b.db')).toBe('sqlite:///a/b.db');
    expect(shellQuote("it's")).toBe("'it'\"'\"'s'");
    expect(shellQuote('a b')).toBe("'a b'");
  });
});
