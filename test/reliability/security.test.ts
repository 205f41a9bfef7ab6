// The checks of docs/security.md that need no running editor: settings that name
// paths cannot come from a workspace, and the webview bundle has no way to reach the
// network. (The page's Content-Security-Policy is checked in a real browser by
// test/webview/panel.test.ts; cache verification by test/engine/engine.test.ts and
// test/reliability/faults.test.ts; model files by hostile.test.ts and the fuzzers.)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from './helpers';

interface Setting {
  type?: string;
  scope?: string;
  restrictedConfiguration?: boolean;
  description?: string;
  markdownDescription?: string;
}

function settings(): Record<string, Setting> {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const sections = [manifest.contributes.configuration].flat();
  return Object.assign({}, ...sections.map((s: { properties: Record<string, Setting> }) => s.properties));
}

describe('security', () => {
  it('lets no workspace name the cache directory, and restricts it in untrusted workspaces', () => {
    const cache = settings()['phasic.cache.directory'];
    assert.ok(cache, 'phasic.cache.directory is declared');
    // 'machine': only user (or remote machine) settings; a workspace's settings.json is ignored.
    assert.equal(cache.scope, 'machine');
    assert.equal(cache.restrictedConfiguration, true);
  });

  it('declares every string setting that names a file or directory the same way', () => {
    const pathLike = Object.entries(settings()).filter(
      ([name, s]) =>
        s.type === 'string' &&
        /(directory|path|file|folder)/i.test(`${name} ${s.description ?? ''} ${s.markdownDescription ?? ''}`),
    );
    assert.ok(pathLike.length >= 1);
    for (const [name, s] of pathLike) {
      assert.equal(s.scope, 'machine', `${name}: scope`);
      assert.equal(s.restrictedConfiguration, true, `${name}: restrictedConfiguration`);
    }
  });

  it('ships a webview bundle that can reach no network', () => {
    for (const file of ['webview.js', 'webview.css']) {
      const text = readFileSync(join(ROOT, 'dist', file), 'utf8');
      const urls = [...new Set(text.match(/\b(?:https?|wss?):\/\/[^\s"'`)]+/g) ?? [])];
      // The SVG namespace is an identifier, never fetched.
      assert.deepEqual(
        urls.filter((u) => !u.startsWith('http://www.w3.org/')),
        [],
        `${file}: remote URLs`,
      );
      for (const api of [
        'fetch(',
        'XMLHttpRequest',
        'WebSocket',
        'EventSource',
        'sendBeacon',
        'importScripts',
        '@import',
      ]) {
        assert.ok(!text.includes(api), `${file} uses ${api}`);
      }
    }
  });
});
