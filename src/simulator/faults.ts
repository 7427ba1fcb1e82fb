import type { ServerResponse } from 'node:http';
import type { Profile } from '../core/config/simulator-config.ts';
import { SIM_ERR_CONTEXT_LENGTH, SIM_ERR_INJECTED_429, SIM_ERR_INJECTED_500 } from './errors.ts';
import type { Fault } from './plan.ts';

/** Throws the injected HTTP error when the fault is one; the caller's sendError answers it in OpenAI's shape. */
export function throwInjectedError(fault: Fault, profile: Profile): void {
  if (fault === 'http500') {
    throw SIM_ERR_INJECTED_500('The server had an error while processing your request (simulated fault).');
  }
  if (fault === 'http400') {
    throw SIM_ERR_CONTEXT_LENGTH(
      "This model's maximum context length is 8192 tokens. However, your messages resulted in 9001 tokens. Please reduce the length of the messages (simulated fault).",
    );
  }
  if (fault === 'http429') {
    throw SIM_ERR_INJECTED_429(`Rate limit reached (simulated fault). Please try again in ${profile.retryAfterSeconds}s.`, {
      headers: { 'retry-after': String(profile.retryAfterSeconds) },
    });
  }
}

/**
 * Drops the connection with a TCP RST, as a crashing model server does, so
 * the client sees ECONNRESET (not a clean end of stream) mid-response.
 */
export function resetConnection(res: ServerResponse): void {
  const socket = res.socket;
  if (socket !== null && !socket.destroyed) socket.resetAndDestroy();
  else res.destroy();
}
