// Models whose names are those of JavaScript object members (`constructor`,
// `__proto__`, ...): wherever user names are keys of a plain object, such a name
// reads an inherited member or is swallowed by the prototype setter. Five models
// rotate the five names through the five roles, so that each name is once a
// constant, a parameter, a state variable, a rule and a reward.

export const MEMBER_NAMES = ['constructor', 'toString', 'valueOf', '__proto__', 'hasOwnProperty'] as const;

export interface MemberNameModel {
  constant: string;
  param: string;
  state: string;
  rule: string;
  reward: string;
  text: string;
}

/**
 * One state variable counting up to the constant C at rate P·C: the time to
 * absorption is Gamma(C, P·C), so E[T] = 1/P, E[T²] = C(C+1)/(P·C)², and the
 * reward `state` accumulates Σ_{k<C} k/(P·C) = (C−1)/(2P).
 */
export function memberNameModels(): MemberNameModel[] {
  return MEMBER_NAMES.map((_, i) => {
    const at = (role: number) => MEMBER_NAMES[(i + role) % MEMBER_NAMES.length];
    const [constant, param, state, rule, reward] = [at(0), at(1), at(2), at(3), at(4)];
    const text = [
      'model member_names',
      `const ${constant} = 3`,
      `param ${param} = 2 in 0..10`,
      `state ${state} in 0..${constant} = 0`,
      `rule ${rule}`,
      `  when ${state} < ${constant}`,
      `  rate ${param} * ${constant}`,
      `  do ${state} += 1`,
      `reward ${reward} = ${state}`,
      '',
    ].join('\n');
    return { constant, param, state, rule, reward, text };
  });
}

/** The closed forms above, for C and P. */
export function memberNameMoments(c: number, p: number): { time: [number, number]; variance: number; reward: number } {
  const lambda = p * c;
  return { time: [c / lambda, (c * (c + 1)) / lambda ** 2], variance: c / lambda ** 2, reward: (c - 1) / (2 * p) };
}

/** A record with `name` as an own key, as JSON.parse makes it (`{ [name]: v }` would too, but not `o[name] = v`). */
export function ownRecord(entries: Array<[string, number]>): Record<string, number> {
  return Object.fromEntries(entries);
}
