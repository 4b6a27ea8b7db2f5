/**
 * What the root's own worker threads (processor 0's threads 1..n) and its
 * child processors start with, from the runtime's resolved options.
 */
import type { MessagePort } from 'node:worker_threads';
import type { BridgeDirection } from '../../types.js';
import { ManualClock } from '../clock.js';
import type { ResolvedRuntimeOptions } from '../options.js';
import type { FailureReport } from '../thread/failure-reports.js';
import type { WorkerThreadOptions } from './processor-threads.js';
import type { WorkerExit } from './worker-api.js';

/** What the root's worker threads need from the root. */
export interface RootThreadsHost {
  bridgeDirection(): BridgeDirection;
  /** Inspection in the root: whether workers start with it on, and where their records go. */
  readonly inspection: { readonly remoteOn: boolean; readonly relay: { attach(port: MessagePort): void } };
  /** A worker died: whether it was restarted, or the budget ran out. */
  onCrash(thread: number, exit: WorkerExit, restarted: boolean): void;
  reportFailure(report: FailureReport): void;
}

/** The options of the root's `threadsPerProcessor` worker threads; `signal` aborts when the runtime stops. */
export function rootThreadOptions(options: ResolvedRuntimeOptions, host: RootThreadsHost, signal: AbortSignal): WorkerThreadOptions {
  return {
    processor: 0,
    count: options.threadsPerProcessor,
    deferred: options.deferred,
    maxQueued: options.maxQueued,
    bridge: () => host.bridgeDirection(),
    ...(options.callDeadlineMs === undefined ? {} : { callDeadlineMs: options.callDeadlineMs }),
    startDeadlineMs: options.threadStartDeadlineMs,
    ...(options.restart === undefined ? {} : { restart: options.restart }),
    ...(options.workerLimits === undefined ? {} : { resourceLimits: options.workerLimits }),
    ...(options.sync === undefined ? {} : { sync: options.sync }),
    inspection: { on: () => host.inspection.remoteOn, attach: (port) => host.inspection.relay.attach(port) },
    ...(options.memory.defaults ? {} : { memory: options.memory.options }),
    ...remoteSettings(options),
    // A ManualClock drives the root's own workers too (a child processor's go by their system clock).
    ...(options.clock instanceof ManualClock ? { manualClock: options.clock } : {}),
    onCrash: (thread, exit, restarted) => host.onCrash(thread, exit, restarted),
    onFailure: (report) => host.reportFailure(report),
    signal,
  };
}

/** What workers and child processors start with beyond their own options: metrics on, middleware modules. */
export function remoteSettings(options: ResolvedRuntimeOptions) {
  return {
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
    ...(options.middlewareModules.length === 0 ? {} : { middleware: options.middlewareModules }),
  };
}
