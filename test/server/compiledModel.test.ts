// A compiled-model `.json` run through the real language server is described by its
// own parameters, rewards and state variables, as the CLI and its `.phasic` source
// describe it: it is not mistaken for a phasic graph (which has p1…pP and s0…).

import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { ModelSpec, RunReply } from '../../extension/protocol/requests';
import { LspClient } from './lsp';

const ROOT = join(__dirname, '..', '..', '..');

describe('a compiled model through the language server', () => {
  let lsp: LspClient;
  const folder = mkdtempSync(join(tmpdir(), 'phasic-compiled-model-'));
  // test/fixtures/engine/kingman.json: kingman.phasic compiled with n = 4.
  copyFileSync(join(ROOT, 'test', 'fixtures', 'engine', 'kingman.json'), join(folder, 'kingman.json'));
  const uri = pathToFileURL(join(folder, 'kingman.json')).toString();

  before(async () => {
    lsp = await LspClient.initialized();
  });
  after(() => lsp.stop());

  const outline = {
    name: 'kingman',
    params: [{ name: 'theta', default: 1, lo: null, hi: null }],
    constants: [],
    rewards: ['time', 'tmrca', 'total_length'],
    stateVariables: [{ name: 'k', offset: 0, dims: [] }],
  };

  it('keeps its parameters, rewards and state variables when described', async () => {
    const spec = await lsp.request<ModelSpec>('phasic/describe', { uri, overrides: {} });
    assert.deepEqual(spec, { uri, ...outline });
  });

  it('runs at a value of its own parameter, with the closed-form answer', async () => {
    const reply = await lsp.request<RunReply>('phasic/run', {
      uri,
      overrides: {},
      params: { theta: 2 },
      moments: 1,
      covariances: [],
      runId: 1,
    });
    assert.deepEqual(reply.model, { uri, ...outline });
    // E[tmrca] = Σ_{k=2..4} 2 / (θ k (k − 1)) = 1.5 / θ.
    assert.ok(
      Math.abs((reply.result.moments.tmrca[0] as number) - 0.75) < 1e-12,
      String(reply.result.moments.tmrca[0]),
    );
  });
});
