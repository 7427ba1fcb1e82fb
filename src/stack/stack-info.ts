import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { MonitoringSpec } from '../core/config/monitoring-spec.ts';
import { STACK_ERR_NO_STACK } from './errors.ts';
import type { StackGpus } from './gpu.ts';
import type { Timings } from './timings.ts';

/** Where each part of a running stack answers, and the secrets a drill needs; written to `stack.json`. */
export interface StackInfo {
  readonly pid: number;
  readonly dir: string;
  readonly urls: {
    readonly simulator?: string;
    readonly gateway: string;
    readonly responder: string;
    readonly prometheus: string;
    readonly alertmanager: string;
    readonly nodeExporter: string;
    /** `llmwatch console`, started with the stack. */
    readonly console: string;
  };
  readonly adminToken: string;
  readonly responderToken: string;
  /** The model a drill targets (has a fallback), and the fallback's name. */
  readonly drillModel: string;
  readonly fallbackModel: string;
  /** The models the gateway serves. */
  readonly models: readonly string[];
  /** A model to try a request with: one the upstream lists; undefined when none of them is listed. */
  readonly tryModel?: string;
  readonly timings: Timings;
  /** The GPU exporters: the host's (nvidia-smi), the simulator's simulated GPUs; absent in a stack.json from before them. */
  readonly gpus?: StackGpus;
  readonly spec: Readonly<MonitoringSpec>;
  /** The deployment the responder's `scale` action drives here (simulator replicas behind a gateway upstream); none with a real upstream. */
  readonly scale?: { readonly deployment: string; readonly namespace: string; readonly upstream: string; readonly maxReplicas: number };
}

/** The file in a stack's folder that keeps the last drill run, for the console. */
export const DRILLS_FILE = 'drills.json';

/** Reads a stack's `stack.json`, written by `llmwatch up`. */
export function readStackInfo(dir: string): StackInfo {
  const path = join(resolve(dir), 'stack.json');
  if (!existsSync(path)) throw STACK_ERR_NO_STACK(`No running stack found: ${path} is missing. Start one with 'llmwatch up' (or 'npm start').`);
  return JSON.parse(readFileSync(path, 'utf8')) as StackInfo;
}
