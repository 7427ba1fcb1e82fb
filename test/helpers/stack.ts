import OpenAI from 'openai';
import { GatewayConfigSchema } from '../../src/core/config/gateway-config.ts';
import type { GatewayConfigInput } from '../../src/core/config/gateway-config.ts';
import { simulatorConfig } from '../../src/core/config/simulator-config.ts';
import { validateConfig } from '../../src/core/config/validate.ts';
import { startGateway } from '../../src/gateway/server.ts';
import type { GatewayHandle } from '../../src/gateway/server.ts';
import { startSimulator } from '../../src/simulator/server.ts';
import { parseExposition } from './exposition.ts';
import type { Exposition } from './exposition.ts';

export const MODEL = 'llama-3.1-8b-instruct';
export const SMALL_MODEL = 'llama-3.2-1b-instruct';

/** A gateway config over one upstream, with test-friendly overrides. */
export function gatewayConfig(baseURL: string, overrides: Partial<GatewayConfigInput> = {}, upstream: Record<string, unknown> = {}) {
  return validateConfig(GatewayConfigSchema, {
    port: 0,
    metrics: { processMetrics: false },
    upstreams: { sim: { baseURL, ...upstream } },
    models: { [MODEL]: { upstream: 'sim' }, [SMALL_MODEL]: { upstream: 'sim' } },
    ...overrides,
  });
}

export interface Pair {
  readonly simURL: string;
  readonly gw: GatewayHandle;
  readonly client: OpenAI;
  metrics(): Promise<Exposition>;
  close(): Promise<void>;
}

/**
 * A simulator with zero latency (unless the profile says otherwise) and a
 * gateway in front of it, both on free ports, with an `openai` SDK client that
 * never retries (so every request is counted once).
 */
export async function startPair(
  simData: Record<string, unknown> = {},
  upstream: Record<string, unknown> = {},
): Promise<Pair> {
  const sim = await startSimulator(
    simulatorConfig({
      port: 0,
      defaults: { ttftMs: 0, tpotMs: 0, jitter: 0, outputTokens: { min: 8, max: 8 } },
      ...simData,
    }),
    { port: 0 },
  );
  const gw = await startGateway(gatewayConfig(`${sim.url}/v1`, {}, upstream), { port: 0 });
  return {
    simURL: sim.url,
    gw,
    client: new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'test', maxRetries: 0, timeout: 10_000 }),
    metrics: () => scrape(gw.url),
    close: async () => {
      await gw.close();
      await sim.close();
    },
  };
}

export async function scrape(url: string): Promise<Exposition> {
  const res = await fetch(`${url}/metrics`);
  return parseExposition(await res.text());
}

/** Waits until `check` is true, polling every 10 ms, for at most `ms` (a liveness bound: 20 s, as a loaded 2-core machine can stall a process for seconds; a condition that holds ends the wait at once). */
export async function until(check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
