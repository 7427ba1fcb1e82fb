import { InvalidArgumentError } from 'commander';

/** A commander option parser for an integer in [min, max]. */
export function integerIn(name: string, min: number, max: number): (value: string) => number {
  return function parseInteger(value) {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    }
    return n;
  };
}

/** Parses a TCP port option; 0 asks for any free port. */
export const parsePort = integerIn('port', 0, 65_535);

/**
 * Resolves on the first SIGINT or SIGTERM, so a command's action can await it
 * and then close its servers cleanly before returning.
 */
export function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    function stop(signal: NodeJS.Signals) {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    }
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
