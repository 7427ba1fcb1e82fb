import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import { LABEL, metricName } from '../core/conventions/metrics.ts';
import { boundCounter, boundGauge } from '../core/metering/exposition.ts';
import type { GaugeChild, IncChild } from '../core/metering/exposition.ts';

/** One endpoint's series; after `retire()` (the endpoint was removed) updates are dropped and the series are gone. */
export interface EndpointMeter {
  readonly inFlight: GaugeChild;
  readonly ejected: GaugeChild;
  readonly ejections: IncChild;
  retire(): void;
}

/** An upstream's series: how many endpoints it has, and each endpoint's. */
export interface UpstreamMeter {
  readonly endpoints: GaugeChild;
  endpoint(label: string): EndpointMeter;
}

const NOOP_CHILD: GaugeChild = { inc() {}, dec() {}, set() {} };

/** For an upstream made without a registry (tests, probes). */
export const NO_UPSTREAM_METER: UpstreamMeter = {
  endpoints: NOOP_CHILD,
  endpoint: () => ({ inFlight: NOOP_CHILD, ejected: NOOP_CHILD, ejections: NOOP_CHILD, retire() {} }),
};

/**
 * The per-endpoint series of replicated upstreams. Only small gauges and one
 * counter carry the `upstream_endpoint` label: the latency histograms and
 * request counters stay per model and upstream, so replicas multiply three
 * series, not every histogram. The label's values are bounded by each
 * upstream's `maxEndpoints`, and a removed endpoint's series are deleted.
 */
export class EndpointMetrics {
  readonly #endpoints: Gauge<string>;
  readonly #inFlight: Gauge<string>;
  readonly #ejected: Gauge<string>;
  readonly #ejections: Counter<string>;

  constructor(registry: Registry, prefix: string) {
    const { upstream, upstreamEndpoint } = LABEL;
    const registers = [registry];
    this.#endpoints = new Gauge({ name: metricName('upstreamEndpoints', prefix), help: 'Endpoints (replicas) of an upstream, admitted or ejected.', labelNames: [upstream], aggregator: 'max', registers });
    this.#inFlight = new Gauge({ name: metricName('upstreamEndpointInFlight', prefix), help: 'Requests sent to one endpoint of an upstream and not finished.', labelNames: [upstream, upstreamEndpoint], registers });
    this.#ejected = new Gauge({ name: metricName('upstreamEndpointEjected', prefix), help: '1 while an endpoint is ejected after consecutive failures, else 0.', labelNames: [upstream, upstreamEndpoint], aggregator: 'max', registers });
    this.#ejections = new Counter({ name: metricName('upstreamEndpointEjections', prefix), help: 'Times an endpoint was ejected after consecutive failures.', labelNames: [upstream, upstreamEndpoint], registers });
  }

  upstream(name: string): UpstreamMeter {
    const endpoints = boundGauge(this.#endpoints, { [LABEL.upstream]: name }, 0);
    return {
      endpoints,
      endpoint: (label) => {
        const labels = { [LABEL.upstream]: name, [LABEL.upstreamEndpoint]: label };
        const inFlight = boundGauge(this.#inFlight, { ...labels }, 0);
        const ejected = boundGauge(this.#ejected, { ...labels }, 0);
        const ejections = boundCounter(this.#ejections, { ...labels });
        let retired = false;
        return {
          // A request still finishing on a removed endpoint must not bring its series back.
          inFlight: { inc: (v) => retired || inFlight.inc(v), dec: (v) => retired || inFlight.dec(v), set: (v) => retired || inFlight.set(v) },
          ejected: { inc: (v) => retired || ejected.inc(v), dec: (v) => retired || ejected.dec(v), set: (v) => retired || ejected.set(v) },
          ejections: { inc: (v) => retired || ejections.inc(v) },
          retire: () => {
            retired = true;
            this.#inFlight.remove(labels);
            this.#ejected.remove(labels);
            this.#ejections.remove(labels);
          },
        };
      },
    };
  }
}
