// A simulated downstream: workers that each serve one request at a time for a service time drawn
// from a distribution, a FIFO queue in front of them, and a fault rate. It knows nothing of the
// policies: they reach it only through the signal and errors a real server would give them.

import type { Clock, Random } from '@breakwater/core';
import type { Distribution } from './random.js';

export type DownstreamErrorKind = 'rejected' | 'fault';

/** What the downstream answers instead of a result: `rejected` (queue full, refused cheaply) or `fault`. */
export class DownstreamError extends Error {
  constructor(readonly kind: DownstreamErrorKind) {
    super(`downstream ${kind}`);
    this.name = 'DownstreamError';
  }
}

export interface DownstreamOptions {
  clock: Clock;
  random: Random;
  /** Requests served at once. */
  workers: number;
  /** Service time of one request, ms. */
  service: Distribution;
  /** Requests that may wait for a worker; more are rejected at once. @default Infinity */
  maxQueue?: number;
  /** Share of served requests that fail. @default 0 */
  faultRate?: number;
  /**
   * What a caller's abort does. `'drop'`: a queued request leaves the queue and one in service stops
   * (HTTP/2 RST_STREAM, a server that watches its sockets). `'ignore'`: the work is done anyway,
   * as by a server that never learns its client gave up. @default 'drop'
   */
  onAbort?: 'drop' | 'ignore';
}

interface Job {
  resolve: () => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** Set when the job leaves the queue or service early. */
  done: boolean;
  timer: unknown;
}

export class Downstream {
  readonly clock: Clock;
  private readonly random: Random;
  private readonly service: Distribution;
  private readonly maxQueue: number;
  private readonly faultRate: number;
  private readonly dropOnAbort: boolean;
  private queue: Job[] = [];
  private queueHead = 0;
  private busy = 0;
  /** Workers in service now; `setWorkers` changes it (a capacity cut). */
  workers: number;

  /** Requests that arrived. */
  arrived = 0;
  /** Refused because the queue was full. */
  rejected = 0;
  /** Served to the end (work done), failed or not. */
  served = 0;
  /** Served to the end with a fault. */
  faults = 0;
  /** Left the queue or service because their caller aborted. */
  dropped = 0;

  constructor(options: DownstreamOptions) {
    this.clock = options.clock;
    this.random = options.random;
    this.workers = options.workers;
    this.service = options.service;
    this.maxQueue = options.maxQueue ?? Number.POSITIVE_INFINITY;
    this.faultRate = options.faultRate ?? 0;
    this.dropOnAbort = (options.onAbort ?? 'drop') === 'drop';
  }

  /** Requests waiting for a worker. */
  get queued(): number {
    return this.queue.length - this.queueHead;
  }

  get inService(): number {
    return this.busy;
  }

  /** Changes the number of workers; requests in service finish, the queue drains at the new rate. */
  setWorkers(n: number): void {
    this.workers = n;
    this.drain();
  }

  /** One request: resolves when served, rejects with a `DownstreamError` or the signal's reason. */
  call(signal?: AbortSignal): Promise<void> {
    this.arrived++;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.busy >= this.workers && this.queued >= this.maxQueue) {
      this.rejected++;
      return Promise.reject(new DownstreamError('rejected'));
    }
    return new Promise<void>((resolve, reject) => {
      const job: Job = { resolve, reject, signal, onAbort: undefined, done: false, timer: undefined };
      if (signal !== undefined && this.dropOnAbort) {
        job.onAbort = () => this.abort(job);
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.drain();
    });
  }

  private abort(job: Job): void {
    if (job.done) return;
    job.done = true;
    this.dropped++;
    if (job.timer !== undefined) {
      this.clock.clearTimeout(job.timer);
      this.busy--;
      this.drain();
    }
    job.reject(job.signal?.reason);
  }

  private drain(): void {
    while (this.busy < this.workers && this.queued > 0) {
      const job = this.queue[this.queueHead++]!;
      if (this.queueHead > 1_024 && this.queueHead * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.queueHead);
        this.queueHead = 0;
      }
      if (job.done) continue; // aborted while queued
      this.busy++;
      job.timer = this.clock.setTimeout(() => this.finish(job), this.service(this.random));
    }
  }

  private finish(job: Job): void {
    this.busy--;
    this.served++;
    job.done = true;
    if (job.onAbort !== undefined) job.signal?.removeEventListener('abort', job.onAbort);
    if (this.random() < this.faultRate) {
      this.faults++;
      job.reject(new DownstreamError('fault'));
    } else job.resolve();
    this.drain();
  }
}
