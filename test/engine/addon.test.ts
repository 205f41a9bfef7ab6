// Finding the native addon: upward from the bundle, or where PHASIC_ENGINE_ADDON says.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { findAddon } from '../../extension/engine/addon';
import { ROOT, tempDir } from './helpers';

const BUILT = join(ROOT, 'native', 'build', 'Release', 'phasic_engine.node');

describe('addon lookup', () => {
  const saved = process.env.PHASIC_ENGINE_ADDON;
  afterEach(() => {
    if (saved === undefined) delete process.env.PHASIC_ENGINE_ADDON;
    else process.env.PHASIC_ENGINE_ADDON = saved;
  });

  it('finds native/build/Release upward from a nested directory', () => {
    delete process.env.PHASIC_ENGINE_ADDON;
    assert.equal(findAddon(join(ROOT, 'out', 'test', 'engine')), BUILT);
    assert.equal(findAddon(ROOT), BUILT);
  });

  it('says how to build it when there is none', () => {
    delete process.env.PHASIC_ENGINE_ADDON;
    assert.throws(() => findAddon(tempDir('no-addon')), /was not found above .*node-gyp rebuild.*PHASIC_ENGINE_ADDON/);
  });

  it('takes PHASIC_ENGINE_ADDON first, and rejects a path that does not exist', () => {
    process.env.PHASIC_ENGINE_ADDON = BUILT;
    assert.equal(findAddon(tempDir('elsewhere')), BUILT);
    process.env.PHASIC_ENGINE_ADDON = join(tempDir('missing'), 'engine.node');
    assert.throws(() => findAddon(ROOT), /PHASIC_ENGINE_ADDON names .* which does not exist/);
  });
});
