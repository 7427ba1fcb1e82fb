import type { Action } from '../types.ts';

/** `noop`: records that the playbook reached it and touches nothing; for drills and benchmarks. */
export const noopAction: Action = {
  id: 'noop',
  run: async (ctx) => ({ outcome: ctx.dryRun ? 'dry-run' : 'success', detail: 'nothing to do' }),
};
