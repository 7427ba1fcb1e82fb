import type { ProfilePatch } from '../core/config/simulator-config.ts';

/**
 * Behaviour profiles (docs/drift.md): the profile patches that make a model
 * drift, for `PUT /admin/profiles/{model}` on the simulator at run time, as
 * the drift drill does. `DELETE /admin/profiles/{model}` undoes any of them.
 * @example curl -X PUT localhost:3000/admin/profiles/llama-3.1-8b-instruct -d '{"refusalFraction":0.5}'
 */
export const BEHAVIOUR_PROFILES = {
  /** Half the answers decline: "I'm sorry, but I can't help with that." (RefusalDrift). */
  refusing: { refusalFraction: 0.5 },
  /** Most answers run on to the client's max_tokens and end with finish_reason "length" (TruncationDrift). */
  truncating: { truncateFraction: 0.8 },
  /** Answers of two to four tokens (OutputLengthDrift). */
  terse: { outputTokens: { min: 2, max: 4 } },
} as const satisfies Record<string, ProfilePatch>;

export type BehaviourProfile = keyof typeof BEHAVIOUR_PROFILES;
