/**
 * llmwatch as a library: in-app instrumentation of an `openai` SDK client
 * under the gateway's metric names, and the conventions module those names
 * come from.
 */
export { instrumentOpenAI, OTHER_MODEL } from './instrument/instrument-openai.ts';
export type { InstrumentOptions, OpenAILike } from './instrument/instrument-openai.ts';
export { metricName, recordedNames, DEFAULT_PREFIX, METRIC, LABEL } from './core/conventions/metrics.ts';
