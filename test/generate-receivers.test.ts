import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { CFG_ERR_INVALID } from '../src/core/config/errors.ts';
import { monitoringSpec } from '../src/core/config/monitoring-spec.ts';
import { hasCode } from '../src/core/errors.ts';
import { startChild } from './helpers/processes.ts';
import { run } from './helpers/promtool.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const BIN = join(ROOT, 'bin/llmwatch.js');

/** The spec's error message for `alertmanager` data, or a failure when it is accepted. */
function refused(alertmanager: Record<string, unknown>): string {
  try {
    monitoringSpec({ alertmanager });
  } catch (err) {
    assert.ok(hasCode(err, CFG_ERR_INVALID), String(err));
    return err.message;
  }
  assert.fail(`accepted: ${JSON.stringify(alertmanager)}`);
}

describe('receivers in llmwatch.yaml: secrets from files only', () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['a PagerDuty routing key', { pagerduty: [{ routingKey: 'R0UT1NG' }] }, /alertmanager\.receivers\.oncall\.pagerduty\.0: routingKey: a secret is never written inline .* routingKeyFile/],
    ['a PagerDuty service key', { pagerduty: [{ serviceKey: 'S3RV1CE' }] }, /pagerduty\.0: serviceKey: a secret is never written inline .* serviceKeyFile/],
    ['a Slack webhook URL', { slack: [{ apiURL: 'https://hooks.slack.com/services/T/B/X' }] }, /alertmanager\.receivers\.oncall\.slack\.0: apiURL: a secret is never written inline .* apiURLFile/],
    ['an SMTP password', { email: [{ to: 'a@b.c', from: 'x@y.z', smarthost: 'smtp:587', authUsername: 'u', authPassword: 'pw' }] }, /email\.0: authPassword: a secret is never written inline .* authPasswordFile/],
    ['a webhook bearer token', { webhook: [{ url: 'https://hooks.example.com/a', token: 'T0KEN' }] }, /webhook\.0: token: a secret is never written inline .* credentialsFile/],
    ['credentials in a webhook URL', { webhook: [{ url: 'https://user:pass@hooks.example.com/a' }] }, /alertmanager\.receivers\.oncall\.webhook\.0\.url: holds credentials/],
  ];
  for (const [what, receiver, message] of cases) {
    test(`${what} written inline is refused, naming the field and the file field to use`, () => {
      const msg = refused({ receivers: { oncall: receiver } });
      assert.match(msg, message);
      // The refused secret is never echoed back.
      assert.doesNotMatch(msg, /R0UT1NG|S3RV1CE|hooks\.slack\.com|pw\b|T0KEN|user:pass/);
    });
  }

  test('routing to a receiver that is not declared, a reserved name, both PagerDuty keys, the retired pager/chat fields', () => {
    assert.match(refused({ receivers: { oncall: {} }, routes: { critical: ['oncall', 'pager'] } }), /alertmanager\.routes\.critical\.1: no receiver 'pager' under alertmanager\.receivers \(declared: oncall\)/);
    assert.match(refused({ watchdog: { receiver: 'heartbeat' } }), /alertmanager\.watchdog\.receiver: no receiver 'heartbeat'/);
    assert.match(refused({ receivers: { 'llmwatch-responder': {} } }), /alertmanager\.receivers\.llmwatch-responder: 'llmwatch-responder' is a receiver llmwatch generates itself/);
    assert.match(refused({ receivers: { oncall: { pagerduty: [{ routingKeyFile: '/a', serviceKeyFile: '/b' }] } } }), /pagerduty\.0: set exactly one of routingKeyFile/);
    assert.match(refused({ pager: { slackWebhookURL: 'https://hooks.slack.com/x' } }), /alertmanager\.pager: replaced by alertmanager\.receivers and alertmanager\.routes/);
    // A URL that does not parse gets the format's message: the credentials check must not throw on it (it did: a bare 'Invalid URL' crash).
    for (const url of ['not a url', 'http://[::1', '::::']) {
      assert.match(refused({ receivers: { oncall: { webhook: [{ url }] } } }), /alertmanager\.receivers\.oncall\.webhook\.0\.url: Invalid URL/, url);
    }
  });
});

describe('`llmwatch generate` and `llmwatch check` on routes that tell no one', () => {
  test('generate warns on stderr per route; check warns and passes; check --strict fails naming the route', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'llmwatch-routes-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    // Critical reaches PagerDuty; warning reaches a receiver with nothing in it; the Watchdog has no switch.
    const spec = {
      alertmanager: {
        receivers: { oncall: { pagerduty: [{ routingKeyFile: '/etc/alertmanager/secrets/pd' }] }, team: {} },
        routes: { critical: ['oncall'], warning: ['team'] },
      },
    };
    writeFileSync(join(dir, 'llmwatch.yaml'), stringify(spec));
    const out = join(dir, 'deploy');
    const gen = startChild(process.execPath, [BIN, 'generate', '--spec', join(dir, 'llmwatch.yaml'), '--out', out]);
    assert.equal((await once(gen.process, 'exit'))[0], 0, gen.output());
    assert.match(gen.output(), /WARNING: route severity="warning" reaches no receiver that tells anyone \(team, llmwatch-responder\)/);
    assert.match(gen.output(), /WARNING: route alertname="Watchdog" reaches no dead man's switch/);
    assert.doesNotMatch(gen.output(), /severity="critical"/);

    const check = startChild(process.execPath, [BIN, 'check', '--out', out, '--spec', join(dir, 'llmwatch.yaml')]);
    assert.equal((await once(check.process, 'exit'))[0], 0, check.output());
    assert.match(check.output(), /WARNING: route severity="warning" reaches no receiver that tells anyone \(it reaches team, llmwatch-responder/);
    assert.match(check.output(), /all checks passed, with 2 routing warning\(s\)/);

    const strict = startChild(process.execPath, [BIN, 'check', '--strict', '--out', out, '--spec', join(dir, 'llmwatch.yaml')]);
    const [code] = await once(strict.process, 'exit');
    assert.notEqual(code, 0);
    assert.match(strict.output(), /route severity="warning" reaches no receiver/);
    assert.match(strict.output(), /route alertname="Watchdog" reaches no receiver/);
  });

  test('every kind of receiver passes the real amtool check-config, and check --strict passes once every route tells someone', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'llmwatch-routes-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const spec = {
      alertmanager: {
        receivers: {
          oncall: {
            pagerduty: [{ routingKeyFile: '/etc/alertmanager/secrets/pd' }],
            email: [{ to: 'oncall@example.com', from: 'am@example.com', smarthost: 'smtp.example.com:587', authUsername: 'am', authPasswordFile: '/etc/alertmanager/secrets/smtp' }],
          },
          team: { slack: [{ apiURLFile: '/etc/alertmanager/secrets/slack', channel: '#llm' }], webhook: [{ url: 'https://chat.example.com/hook', credentialsFile: '/etc/alertmanager/secrets/hook' }] },
          watchdog: { webhook: [{ url: 'https://api.opsgenie.com/v2/heartbeats/llmwatch/ping', credentialsFile: '/etc/alertmanager/secrets/genie', credentialsType: 'GenieKey' }] },
        },
        routes: { critical: ['oncall'], warning: ['team'] },
      },
    };
    writeFileSync(join(dir, 'llmwatch.yaml'), stringify(spec));
    const out = join(dir, 'deploy');
    const gen = startChild(process.execPath, [BIN, 'generate', '--spec', join(dir, 'llmwatch.yaml'), '--out', out]);
    assert.equal((await once(gen.process, 'exit'))[0], 0, gen.output());
    assert.doesNotMatch(gen.output(), /WARNING/);
    const am = run('amtool', ['check-config', 'alertmanager.yml'], join(out, 'alertmanager'));
    assert.equal(am.status, 0, am.output);
    assert.match(am.output, /5 receivers/);
    const strict = startChild(process.execPath, [BIN, 'check', '--strict', '--out', out, '--spec', join(dir, 'llmwatch.yaml')]);
    assert.equal((await once(strict.process, 'exit'))[0], 0, strict.output());
    assert.match(strict.output(), /all checks passed$/m);
  });
});
