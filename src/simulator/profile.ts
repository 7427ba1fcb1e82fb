import { mergeProfile, profileIssues, ProfilePatchSchema } from '../core/config/simulator-config.ts';
import type { Profile, SimulatorConfig } from '../core/config/simulator-config.ts';
import { OAI_ERR_UNKNOWN_MODEL } from '../core/openai/errors.ts';
import { SIM_ERR_INVALID_PROFILE } from './errors.ts';

/**
 * The effective profile of each model: the configured one (defaults merged
 * with the model's patch) unless changed at run time through the admin API,
 * which is how a drill causes a latency spike or an error burst.
 */
export class ProfileStore {
  readonly #configured: ReadonlyMap<string, Profile>;
  readonly #current = new Map<string, Profile>();

  constructor(config: SimulatorConfig) {
    this.#configured = new Map(
      Object.entries(config.models).map(([name, patch]) => [name, frozen(mergeProfile(config.defaults, patch))]),
    );
    this.resetAll();
  }

  /** The configured model names, in config order. */
  get models(): string[] {
    return [...this.#configured.keys()];
  }

  /** The effective profile of `model`, or undefined for a model not configured. */
  get(model: string): Profile | undefined {
    return this.#current.get(model);
  }

  /** Every model's effective profile. */
  all(): Record<string, Profile> {
    return Object.fromEntries(this.#current);
  }

  /**
   * Merges a partial profile (unvalidated data, e.g. a PUT body) over the
   * current one. Throws OAI_ERR_UNKNOWN_MODEL, or SIM_ERR_INVALID_PROFILE
   * naming the field; on error nothing changes.
   * @example store.patch('llama-3.1-8b-instruct', { ttftMs: 2000 })
   */
  patch(model: string, patch: unknown): Profile {
    const current = this.#require(model);
    const parsed = ProfilePatchSchema.safeParse(patch);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      // An unknown key is reported against its parent; name the key itself, as a client would spell it.
      const path = [...issue.path.map(String), ...('keys' in issue ? issue.keys.slice(0, 1) : [])];
      throw invalidProfile(model, path, issue.message);
    }
    const next = mergeProfile(current, parsed.data);
    const issue = profileIssues(next)[0];
    if (issue !== undefined) throw invalidProfile(model, issue.path, issue.message);
    this.#current.set(model, frozen(next));
    return next;
  }

  /** Puts `model` back to its configured profile. */
  reset(model: string): Profile {
    this.#require(model);
    const configured = this.#configured.get(model)!;
    this.#current.set(model, configured);
    return configured;
  }

  /** Puts every model back to its configured profile. */
  resetAll(): void {
    for (const [name, profile] of this.#configured) this.#current.set(name, profile);
  }

  #require(model: string): Profile {
    const profile = this.#current.get(model);
    if (profile === undefined) throw unknownModel(model);
    return profile;
  }
}

/** The 404 for a model with no profile, in OpenAI's words. */
export function unknownModel(model: string) {
  return OAI_ERR_UNKNOWN_MODEL(`The model '${model}' does not exist`, { param: 'model' });
}

/** Profiles are handed out by reference, so none may change under a request that holds one. */
function frozen(profile: Profile): Profile {
  Object.freeze(profile.errors);
  Object.freeze(profile.outputTokens);
  return Object.freeze(profile);
}

function invalidProfile(model: string, path: readonly string[], message: string) {
  const field = path.length > 0 ? path.join('.') : '(root)';
  return SIM_ERR_INVALID_PROFILE(`Invalid profile for model '${model}': ${field}: ${message}`, { param: field });
}
