import type { GeneratedFile, MonitoringModel } from '../model.ts';
import { dumpYaml } from '../yaml.ts';
import { plainRuleGroup } from './kubernetes.ts';

/** `prometheus/rules/<group>.yml`: one rule group per file, recording rules first. */
export function renderRules(model: MonitoringModel): GeneratedFile[] {
  return model.groups.map((g) => ({ path: `prometheus/rules/${g.file}.yml`, content: dumpYaml({ groups: [plainRuleGroup(g)] }) }));
}

/** `prometheus/tests/<alert>.yml`: promtool unit tests, run with `promtool test rules`. */
export function renderPromtoolTests(model: MonitoringModel): GeneratedFile[] {
  return model.tests.map((t) => ({ path: `prometheus/tests/${t.file}.yml`, content: dumpYaml(t.content) }));
}
