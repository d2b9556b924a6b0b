import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import type { IHandoverServices, IHandoverState } from './state';
import type { IVerifyJob } from './types';

/** The part of the state a verify job changes. */
export type VerifyChange = Partial<
  Pick<IHandoverState, 'verifyPhase' | 'verifyJob' | 'verifyError'>
>;

/** What `POST /jupyter-handover/verify` takes. */
export interface IVerifyRequest {
  model_ref: string;
  tracking_uri: string | undefined;
  path: string | null;
}

/**
 * Starts a verify job in the server extension and polls it (a `Poll` that stands by
 * while `standby()` says so) until it ends; tells the model through `changed`.
 */
export class VerifyJobs {
  constructor(
    private _services: IHandoverServices,
    private _interval: number,
    private _standby: () => boolean
  ) {}

  /** Changes of the verify part of the state. */
  get changed(): ISignal<this, VerifyChange> {
    return this._changed;
  }

  /** Emitted once a job passed or failed. */
  get ended(): ISignal<this, IVerifyJob> {
    return this._ended;
  }

  /** Start a job and poll it. */
  async start(request: IVerifyRequest): Promise<void> {
    this.stop();
    const ticket = ++this._ticket;
    this._changed.emit({
      verifyPhase: 'running',
      verifyJob: null,
      verifyError: null
    });
    try {
      const job = await this._services.request<IVerifyJob>('verify', {
        method: 'POST',
        body: JSON.stringify(request)
      });
      if (ticket !== this._ticket) {
        return;
      }
      this._jobId = job.id;
      this._changed.emit({ verifyJob: job });
      this._poll = new Poll({
        factory: () => this._check(job.id, ticket),
        frequency: { interval: this._interval, backoff: false },
        standby: this._standby,
        name: 'jupyter-handover:verify',
        auto: false
      });
      void this._poll.schedule({ interval: this._interval, phase: 'started' });
    } catch (reason) {
      if (ticket === this._ticket) {
        this._changed.emit({
          verifyPhase: 'failed',
          verifyError: String(reason)
        });
      }
    }
  }

  /**
   * Cancel the current job in the server (`DELETE /jupyter-handover/verify/<id>`: its
   * processes are killed) and stop polling it.
   */
  async cancel(): Promise<void> {
    const jobId = this._jobId;
    if (!jobId) {
      return;
    }
    this.stop();
    let job: IVerifyJob | null = null;
    try {
      job = await this._services.request<IVerifyJob>(`verify/${jobId}`, {
        method: 'DELETE'
      });
    } catch (reason) {
      this._changed.emit({
        verifyPhase: 'failed',
        verifyError: String(reason)
      });
      return;
    }
    this._changed.emit({
      verifyJob: job,
      verifyPhase: 'failed',
      verifyError: 'cancelled'
    });
  }

  /** Stop polling the current job (it keeps running in the server). */
  stop(): void {
    this._ticket++;
    this._jobId = null;
    this._poll?.dispose();
    this._poll = null;
  }

  dispose(): void {
    this.stop();
    Signal.clearData(this);
  }

  private async _check(jobId: string, ticket: number): Promise<void> {
    let job: IVerifyJob;
    try {
      job = await this._services.request<IVerifyJob>(`verify/${jobId}`);
    } catch (reason) {
      if (ticket === this._ticket) {
        this.stop();
        this._changed.emit({
          verifyPhase: 'failed',
          verifyError: String(reason)
        });
      }
      return;
    }
    if (ticket !== this._ticket) {
      return;
    }
    if (job.state === 'running' || job.state === 'queued') {
      this._changed.emit({ verifyJob: job });
      return;
    }
    this.stop();
    this._changed.emit({
      verifyJob: job,
      verifyPhase: job.state === 'passed' ? 'done' : 'failed',
      verifyError: job.error
    });
    this._ended.emit(job);
  }

  private _ticket = 0;
  private _jobId: string | null = null;
  private _poll: Poll | null = null;
  private _changed = new Signal<this, VerifyChange>(this);
  private _ended = new Signal<this, IVerifyJob>(this);
}
