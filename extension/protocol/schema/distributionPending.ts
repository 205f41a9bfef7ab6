// TEMPORARY (dist-view): the DistributionResult shape of DIST-INTERFACE.md until the
// branch dist-native adds `distributionResult` to schema/engine.ts; removed on merge.
import type * as v from 'valibot';
import { count, list, nameRecord, nonNeg, num, obj, str } from './base';

export const distributionResult = obj({
  traceKey: str(64),
  reward: str(200),
  params: nameRecord(num),
  times: list(nonNeg),
  cdf: list(num),
  pdf: list(num),
  atom: nonNeg,
  quantiles: list(obj({ p: num, value: nonNeg })),
  epsilon: nonNeg,
  method: obj({ name: str(64), rate: nonNeg, steps: count, states: count, eliminated: count }),
  timingsMs: obj({ transform: nonNeg, uniformize: nonNeg, quantiles: nonNeg, total: nonNeg }),
});

export type DistributionResult = v.InferOutput<typeof distributionResult>;
