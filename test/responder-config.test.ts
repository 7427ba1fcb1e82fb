import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CFG_ERR_INVALID } from '../src/core/config/errors.ts';
import { ResponderConfigSchema } from '../src/core/config/responder-config.ts';
import { loadConfigFile, validateConfig } from '../src/core/config/validate.ts';
import { hasCode } from '../src/core/errors.ts';

test('config/responder.example.yaml is valid; the default playbook is the article\'s, on the latency pages users feel', () => {
  const c = loadConfigFile(ResponderConfigSchema, new URL('../config/responder.example.yaml', import.meta.url).pathname);
  assert.equal(c.playbooks.HighTimeToFirstToken?.steps[0]?.action, 'scale');
  const d = validateConfig(ResponderConfigSchema, {});
  for (const alert of ['HighTimeToFirstToken', 'HighTimePerOutputToken']) {
    assert.deepEqual(
      d.playbooks[alert]?.steps.map((s) => s.action),
      ['scale', 'switch-model', 'notify'],
    );
    assert.equal(d.playbooks[alert]?.steps[0]?.if?.above, 20);
  }
  // Not on the end-to-end latency: it grows with answer length, and long healthy answers would switch the model.
  assert.equal(d.playbooks.HighInferenceLatency, undefined);
});

test('bad responder configs name the field', () => {
  assert.throws(
    () => validateConfig(ResponderConfigSchema, { playbooks: { X: { steps: [{ action: 'exec', params: { command: 'nope' } }] } } }),
    (err: unknown) => hasCode(err, CFG_ERR_INVALID) && /playbooks\.X\.steps\.0\.params\.command: must name one of 'commands'/.test(err.message),
  );
  assert.throws(
    () => validateConfig(ResponderConfigSchema, { playbooks: { X: { steps: [{ action: 'reboot-the-world' }] } } }),
    (err: unknown) => hasCode(err, CFG_ERR_INVALID) && /playbooks\.X\.steps\.0\.action/.test(err.message),
  );
  assert.throws(
    () => validateConfig(ResponderConfigSchema, { playbooks: { X: { steps: [{ action: 'noop', if: { query: 'up', above: 1, below: 2 } }] } } }),
    (err: unknown) => hasCode(err, CFG_ERR_INVALID) && /exactly one of 'above' or 'below'/.test(err.message),
  );
});

/** Issue 13 point 6: playbook mistakes found at load, naming playbook, step and field. */
test('playbook mistakes are refused at load by the action registry: params, channels, reverts, PromQL', () => {
  const refuses = (playbooks: unknown, pattern: RegExp, extra: Record<string, unknown> = {}) =>
    assert.throws(
      () => validateConfig(ResponderConfigSchema, { playbooks, ...extra }),
      (err: unknown) => hasCode(err, CFG_ERR_INVALID) && pattern.test(err.message),
      String(pattern),
    );
  refuses({ HighInferenceLatency: { steps: [{ action: 'switch-model', params: { modle: '{{ $labels.model }}' } }] } }, /playbooks\.HighInferenceLatency\.steps\.0\.params(\.model)?: switch-model: /);
  refuses({ QueueBacklog: { steps: [{ action: 'scale', params: { deployment: 'vllm', maxReplicas: 5 } }] } }, /playbooks\.QueueBacklog\.steps\.0\.params: scale: .*maxReplicas/);
  refuses({ QueueBacklog: { steps: [{ action: 'scale', params: { deployment: 'Not_A_Name' } }] } }, /steps\.0\.params\.deployment: scale: must be a Kubernetes object name/);
  refuses({ QueueBacklog: { steps: [{ action: 'scale', params: { deployment: 'vllm' }, revertOnResolve: true }] } }, /steps\.0\.revertOnResolve: scale cannot undo itself; only switch-model can/);
  refuses({ QueueBacklog: { steps: [{ action: 'noop', if: { query: 'sum(rate(openllm_queue_length[5m])', above: 1 } }] } }, /steps\.0\.if\.query: not valid PromQL \(syntax error at offset/);
  refuses({ QueueBacklog: { steps: [{ action: 'notify', params: { channel: 'chta' } }] } }, /steps\.0\.params\.channel: no notify channel 'chta' is configured \(notify\.webhooks, notify\.slack: chat\)/, {
    notify: { webhooks: { chat: 'http://127.0.0.1:9/hook' } },
  });
  // Templates stand for label values: valid shapes pass, with PromQL label matchers filled in.
  const ok = validateConfig(ResponderConfigSchema, {
    playbooks: { HighInferenceLatency: { steps: [{ action: 'switch-model', params: { model: '{{ $labels.model }}' }, if: { query: 'sum(openllm_queue_length{model="{{ $labels.model }}"})', above: 20 }, revertOnResolve: true }] } },
  });
  assert.equal(ok.playbooks.HighInferenceLatency!.steps[0]!.action, 'switch-model');
});

test('a playbook for an alert no generated rule defines is refused, with the closest name', async () => {
  const { generate } = await import('../src/monitoring/generate.ts');
  const { monitoringSpec } = await import('../src/core/config/monitoring-spec.ts');
  const { alertNamesOf, playbookAlertErrors } = await import('../src/core/config/playbook-check.ts');
  const { PlaybooksSchema } = await import('../src/core/config/playbook-spec.ts');
  const names = alertNamesOf(generate(monitoringSpec({})).filter((f) => f.path.startsWith('prometheus/rules/')).map((f) => f.content));
  assert.ok(names.has('HighInferenceLatency'));
  const playbooks = PlaybooksSchema.parse({ HighInferenceLatncy: { steps: [{ action: 'noop' }] }, HighInferenceLatency: { steps: [{ action: 'noop' }] } });
  assert.deepEqual(playbookAlertErrors(playbooks, names), ['playbooks.HighInferenceLatncy: no alert rule named HighInferenceLatncy in the generated rules (did you mean HighInferenceLatency?)']);
});

test('scale without any Kubernetes configuration is unavailable at start-up, never sent to a default address', async () => {
  const { scaleActions } = await import('../src/responder/command.ts');
  const config = validateConfig(ResponderConfigSchema, {});
  const r = await scaleActions(config, { HOME: '/nonexistent-llmwatch-home' });
  assert.deepEqual(r.actions, []);
  assert.match(r.unavailable.get('scale')!, /no Kubernetes configuration \(kubernetes\.kubeconfig, an in-cluster service account, KUBECONFIG or ~\/\.kube\/config\)/);
});
