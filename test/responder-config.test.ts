import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CFG_ERR_INVALID } from '../src/config/errors.ts';
import { ResponderConfigSchema } from '../src/config/responder-config.ts';
import { loadConfigFile, validateConfig } from '../src/config/validate.ts';
import { hasCode } from '../src/errors.ts';

test('config/responder.example.yaml is valid; the default playbook is the article\'s', () => {
  const c = loadConfigFile(ResponderConfigSchema, new URL('../config/responder.example.yaml', import.meta.url).pathname);
  assert.equal(c.playbooks.HighInferenceLatency?.steps[0]?.action, 'scale');
  const d = validateConfig(ResponderConfigSchema, {});
  assert.deepEqual(
    d.playbooks.HighInferenceLatency?.steps.map((s) => s.action),
    ['scale', 'switch-model', 'notify'],
  );
  assert.equal(d.playbooks.HighInferenceLatency?.steps[0]?.if?.above, 20);
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
