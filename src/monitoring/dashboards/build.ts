import { GEN_ERR_EMPTY_OUTPUT } from '../errors.ts';
import type { MonitoringModel } from '../model.ts';
import { alertsDashboard } from './alerts.ts';
import { enginesDashboard } from './engines.ts';
import { hostsDashboard } from './hosts.ts';
import type { Dashboard } from '../../core/dashboard-model.ts';
import { overviewDashboard } from './overview.ts';

/**
 * Every dashboard of the spec, as plain models, in a fixed order: the LLM
 * service overview, hosts and GPUs, the inference engines (with a vLLM server in the spec), alerts and remediation. Renderers (the
 * Grafana writer, a console) take it from here.
 * @example
 * const [overview] = buildDashboards(buildModel(spec));
 * overview.rows[1]!.panels[0]!.queries.map((q) => q.expr); // the latency panel's P50, P95, P99
 */
export function buildDashboards(model: MonitoringModel): Dashboard[] {
  const engines = enginesDashboard(model);
  const dashboards = [overviewDashboard(model), hostsDashboard(model), ...(engines === undefined ? [] : [engines]), alertsDashboard(model)];
  for (const d of dashboards) {
    for (const row of d.rows) {
      if (row.panels.length === 0) throw GEN_ERR_EMPTY_OUTPUT(`Dashboard '${d.uid}' has an empty row '${row.title}'`);
      for (const p of row.panels) {
        if (p.queries.length === 0) throw GEN_ERR_EMPTY_OUTPUT(`Panel '${p.title}' of dashboard '${d.uid}' has no query`);
      }
    }
  }
  return dashboards;
}
