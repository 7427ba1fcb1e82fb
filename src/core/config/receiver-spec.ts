import { z } from 'zod';
import { hasUrlCredentials } from './secrets.ts';

/**
 * The receivers `llmwatch.yaml` declares for Alertmanager (0.25): webhook,
 * Slack, PagerDuty and email integrations. Every secret comes from a file that
 * Alertmanager reads at start-up (its `*_file` fields), never inline, so the
 * generated alertmanager.yml can be committed: a secret written inline is
 * refused at load with the field named and the `...File` field to use instead.
 */

/** Inline secret fields people reach for, and the file field that replaces each. */
const INLINE_SECRETS: Readonly<Record<string, string>> = {
  apiURL: 'apiURLFile',
  api_url: 'apiURLFile',
  slackWebhookURL: 'apiURLFile',
  routingKey: 'routingKeyFile',
  routing_key: 'routingKeyFile',
  serviceKey: 'serviceKeyFile',
  service_key: 'serviceKeyFile',
  authPassword: 'authPasswordFile',
  auth_password: 'authPasswordFile',
  password: 'authPasswordFile',
  credentials: 'credentialsFile',
  token: 'credentialsFile',
  bearerToken: 'credentialsFile',
};

/** A strict object whose unknown keys that look like inline secrets get a message naming the file field to use. */
function integration<T extends z.ZodRawShape>(shape: T) {
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== 'unrecognized_keys') return undefined;
      const secrets = issue.keys.filter((k) => INLINE_SECRETS[k] !== undefined);
      if (secrets.length === 0) return undefined;
      return secrets
        .map((k) => `${k}: a secret is never written inline in llmwatch.yaml; put it in a file Alertmanager can read and name that file in ${INLINE_SECRETS[k]}`)
        .join('; ');
    },
  });
}

/** A path to a file holding one secret. */
const SecretFile = z.string().min(1, 'a path to the file that holds the secret');

/** A URL with no credentials in it (`https://user:pass@host` is an inline secret). */
const PlainURL = z.url().refine((u) => !hasUrlCredentials(u), 'holds credentials (a user name or password before the host); a secret is never written inline: send a bearer token from credentialsFile instead');

const WebhookIntegration = integration({
  /** Alertmanager 0.25 has no `url_file`: the URL is written as is, so it must not be the secret. */
  url: PlainURL,
  /** A token, from a file (`http_config.authorization.credentials_file`). */
  credentialsFile: SecretFile.optional(),
  /** The Authorization scheme of that token: `Bearer`, or e.g. `GenieKey` for an Opsgenie heartbeat. */
  credentialsType: z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/).default('Bearer'),
  sendResolved: z.boolean().default(true),
  /** 0: every alert of the group. */
  maxAlerts: z.number().int().min(0).default(0),
});

const SlackIntegration = integration({
  /** The incoming-webhook URL is the secret: a file holding it (`api_url_file`). */
  apiURLFile: SecretFile,
  channel: z.string().min(1).optional(),
  sendResolved: z.boolean().default(true),
});

const PagerDutyIntegration = integration({
  /** Events API v2 integration key, from a file (`routing_key_file`). */
  routingKeyFile: SecretFile.optional(),
  /** Events API v1 (a "Prometheus" service integration) key, from a file (`service_key_file`). */
  serviceKeyFile: SecretFile.optional(),
  url: PlainURL.optional(),
  sendResolved: z.boolean().default(true),
}).refine((p) => (p.routingKeyFile === undefined) !== (p.serviceKeyFile === undefined), {
  message: 'set exactly one of routingKeyFile (Events API v2) and serviceKeyFile (v1)',
});

const EmailIntegration = integration({
  to: z.string().min(1),
  from: z.string().min(1),
  /** host:port of the SMTP server. */
  smarthost: z.string().regex(/^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/, 'host:port, such as smtp.example.com:587'),
  authUsername: z.string().min(1).optional(),
  /** The SMTP password, from a file (`auth_password_file`). */
  authPasswordFile: SecretFile.optional(),
  requireTLS: z.boolean().default(true),
  sendResolved: z.boolean().default(false),
}).refine((e) => (e.authUsername === undefined) === (e.authPasswordFile === undefined), {
  message: 'authUsername and authPasswordFile go together',
});

/** One receiver: any mix of integrations; with none it tells no one, and `generate` and `check` say so. */
export const ReceiverSpecSchema = integration({
  webhook: z.array(WebhookIntegration).default([]),
  slack: z.array(SlackIntegration).default([]),
  pagerduty: z.array(PagerDutyIntegration).default([]),
  email: z.array(EmailIntegration).default([]),
});
export type ReceiverSpec = z.output<typeof ReceiverSpecSchema>;

/** A receiver name: also its name in alertmanager.yml. */
export const ReceiverName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, - and _');

/** True when a receiver has at least one integration, i.e. someone or something is told. */
export function hasIntegration(r: ReceiverSpec): boolean {
  return r.webhook.length + r.slack.length + r.pagerduty.length + r.email.length > 0;
}
