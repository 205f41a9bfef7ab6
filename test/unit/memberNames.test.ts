// The host's side of names that are members of every JavaScript object
// (`constructor`, `__proto__`, …): the constants input (prefill and parsing), the
// protocol parser of a real run reply, and the Studio panel's evaluate request,
// re-evaluated by the real engine at a parameter of such a name.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Engine } from '../../extension/engine/engine';
import { overridesPrefill, parseOverrides } from '../../extension/host/commands/overrideText';
import { StudioBuffer } from '../../extension/host/panel/buffer';
import { PanelSession } from '../../extension/host/panel/session';
import type { EvaluateResult } from '../../extension/protocol/engine';
import { parseEngineReply } from '../../extension/protocol/validate';
import type { HostMessage } from '../../extension/protocol/webview';
import { prepareModel } from '../../extension/server/models';
import { MEMBER_NAMES, memberNameModels, memberNameMoments } from '../language/memberNames';
import { onlyCachesHold } from '../memory';

const engine = new Engine();
engine.configure({ cacheDir: '' });

function close(actual: number | string, expected: number, what: string): void {
  assert.equal(typeof actual, 'number', `${what}: ${actual} is not a finite number`);
  assert.ok(
    Math.abs(Number(actual) - expected) <= 1e-12 * Math.max(1, Math.abs(expected)),
    `${what}: ${actual}, expected ${expected}`,
  );
}

describe('member names on the host side', () => {
  after(() => assert.equal(onlyCachesHold(engine.memory()), undefined));

  it('prefills the constants input with remembered values by own key, and parses each name', () => {
    for (const name of MEMBER_NAMES) {
      const constants = [
        { name, value: 3, integer: true },
        { name: 'n', value: 2, integer: true },
      ];
      // Nothing remembered: the model's values, not an inherited member.
      assert.equal(overridesPrefill(constants, {}), `${name} = 3, n = 2`);
      // Remembered through workspaceState, i.e. a JSON round trip.
      const remembered = JSON.parse(JSON.stringify(parseOverrides(`${name} = 7, n = 5`, constants)));
      assert.deepEqual(Object.entries(remembered), [
        [name, 7],
        ['n', 5],
      ]);
      assert.equal(overridesPrefill(constants, remembered), `${name} = 7, n = 5`);
      assert.equal(parseOverrides(`${name} = 1.5`, constants), `constant ${name} must stay an integer`);
      const others = MEMBER_NAMES.filter((x) => x !== name);
      assert.equal(parseOverrides(`${others[0]} = 1`, constants), `the model has no constant "${others[0]}"`);
    }
  });

  for (const m of memberNameModels()) {
    it(`panel: a run and a re-evaluation at ${m.param} = 3 keep every name (const ${m.constant}, rule ${m.rule}, reward ${m.reward})`, async () => {
      const prepared = prepareModel('file:///member_names.phasic', m.text, JSON.parse(`{"${m.constant}": 4}`));
      assert.deepEqual(prepared.spec.constants, [{ name: m.constant, value: 4, integer: true }]);
      const raw = await engine.run(prepared.engineText, { params: JSON.parse(`{"${m.param}": 5}`), moments: 2 });
      // The reply as the host receives it: JSON over the pipe, then validated.
      const reply = parseEngineReply('phasic/run', JSON.parse(JSON.stringify({ model: prepared.spec, result: raw })));
      assert.ok(reply.ok, reply.ok ? '' : reply.error);
      const result = reply.value.result;
      assert.deepEqual(Object.entries(result.params), [[m.param, 5]]);
      assert.deepEqual(Object.keys(result.moments), ['time', m.reward]);
      assert.deepEqual(Object.entries(result.ruleFirings), [[m.rule, 4]]);
      close(result.variance.time, memberNameMoments(4, 5).variance, 'Var[T]');

      const sent: HostMessage[] = [];
      const session = new PanelSession(
        new StudioBuffer(),
        { evaluate: (traceKey, params) => engine.evaluate(traceKey, params, 2, []), exportSvg: async () => undefined },
        (message) => sent.push(JSON.parse(JSON.stringify(message))),
      );
      session.runResult({ uri: prepared.spec.uri, name: prepared.spec.name, params: prepared.spec.params }, result);
      await session.receive({ type: 'ready' });
      // What the page posts: its params object arrives as JSON, `__proto__` an own key.
      await session.receive(
        JSON.parse(
          `{"type": "evaluate", "requestId": 1, "traceKey": "${result.traceKey}", "params": {"${m.param}": 3}}`,
        ),
      );
      const reply1 = sent.at(-1);
      assert.equal(reply1?.type, 'evaluation');
      const evaluation = reply1 as { result?: EvaluateResult; error?: string };
      assert.equal(evaluation.error, undefined);
      const expected = memberNameMoments(4, 3);
      assert.deepEqual(Object.entries(evaluation.result!.params), [[m.param, 3]]);
      close(evaluation.result!.moments.time[0], expected.time[0], 'E[T] at 3');
      close(evaluation.result!.moments[m.reward][0], expected.reward, `E[${m.reward}] at 3`);

      // A name that is no parameter of this model is refused, not read from a prototype.
      const stranger = m.constant;
      await session.receive(
        JSON.parse(
          `{"type": "evaluate", "requestId": 2, "traceKey": "${result.traceKey}", "params": {"${stranger}": 3}}`,
        ),
      );
      assert.deepEqual(sent.at(-1), { type: 'evaluation', requestId: 2, error: `Unknown parameter '${stranger}'.` });
    });
  }
});
