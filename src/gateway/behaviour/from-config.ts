import type { GatewayConfig } from '../../core/config/gateway-config.ts';
import type { GatewayMetrics } from '../../core/metering/gateway-metrics.ts';
import { ClassifierScorer } from '../safety/classifier-scorer.ts';
import { SampledClassifier } from '../safety/sampled-classifier.ts';
import { AnswerBehaviour } from './answer-behaviour.ts';
import type { RefusalJudge } from './answer-behaviour.ts';
import { RefusalDetector } from './refusal-detector.ts';

/** The gateway's behaviour signals as its config says (`behaviour.refusal`), with a `close` for the classifier's pool. */
export function answerBehaviour(config: GatewayConfig, metrics: GatewayMetrics): AnswerBehaviour {
  const r = config.behaviour.refusal;
  let judge: RefusalJudge;
  let classifier: SampledClassifier | undefined;
  switch (r.detector) {
    case 'lexical':
      judge = { kind: 'lexical', detector: new RefusalDetector({ headChars: r.headChars, sentences: r.sentences, extraPhrases: r.extraPhrases }) };
      break;
    case 'classifier': {
      const c = r.classifier!;
      // The moderation API's shape, as the safety classifier: the highest category score is the refusal score.
      classifier = new SampledClassifier(new ClassifierScorer({ baseURL: c.baseURL, apiKey: c.apiKey, model: c.model, timeoutMs: c.timeoutMs }), {
        sampleRate: c.sampleRate,
        maxInFlight: c.maxInFlight,
        onFailure: (why) => metrics.refusalClassifierFailure(why),
      });
      judge = { kind: 'classifier', classifier, threshold: c.threshold, headChars: r.headChars };
      break;
    }
    case 'none':
      judge = { kind: 'none' };
      break;
    default: {
      const never: never = r.detector;
      throw new Error(`unhandled refusal detector ${String(never)}`);
    }
  }
  return new AnswerBehaviour(judge, () => classifier?.close());
}
