// The import boundaries of docs/architecture.md ("Boundaries") are Biome rules in
// biome.json. Each rule here is run, through the real biome binary and the repository's
// own biome.json, over small files laid out like the tree: every import that crosses a
// boundary must be reported, and every import the architecture allows must not be, so a
// rule cannot silently stop firing (a renamed option, a glob that no longer matches) or
// start firing on the code's ordinary imports.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';

// Tests run from out/test/unit; biome.json and the biome binary stay in the tree.
const ROOT = join(__dirname, '..', '..', '..');
const BIOME = join(ROOT, 'node_modules', '@biomejs', 'biome', 'bin', 'biome');

// One import per line; `bad` lines must be reported, `good` lines must not.
interface Case {
  file: string;
  bad: string[];
  good: string[];
}

const CASES: Case[] = [
  {
    file: 'webview/scc/fixture.ts',
    bad: [
      "import '../../extension/host/main';",
      "import '../../extension/server/main';",
      "import type { Engine } from '../../extension/engine/engine';",
      "import '../../extension/language';",
      "import 'vscode';",
      "import 'vscode-languageserver/node';",
      "import 'node:fs';",
      "import 'node:fs/promises';",
      "import 'path';",
      "import '../../native/build/Release/phasic_engine.node';",
      "void import('../../extension/host/main');",
      "require('../store');",
    ],
    good: [
      "import type { RunResult } from '../../extension/protocol/engine';",
      "import '../../extension/protocol/webview';",
      "import '../store';",
      "import './view';",
      "import '@vscode/webview-ui-toolkit';",
    ],
  },
  {
    file: 'webview/fixture.ts',
    bad: ["import '../extension/cli/main';", "import 'vscode';"],
    good: ["import '../extension/protocol/webview';", "import './store';"],
  },
  {
    file: 'extension/host/commands/fixture.ts',
    bad: [
      "import '../../engine/engine';",
      "import type { Engine } from '../../engine/engine';",
      "import '../../server/main';",
      "import '../../language';",
      "import '../../language/parser';",
      "import '../../../native/build/Release/phasic_engine.node';",
      "import 'node-addon-api';",
      "require('../x');",
    ],
    good: [
      "import type { RunResult } from '../../protocol/engine';",
      "import { formatMoment } from '../../protocol/moment';",
      "import * as vscode from 'vscode';",
      "import { LanguageClient } from 'vscode-languageclient/node';",
      "import { join } from 'node:path';",
      "import '../engineClient';",
      "import '../format';",
    ],
  },
  {
    file: 'extension/host/fixture.ts',
    bad: ["import '../engine/addon';", "import '../server/engineHost';", "import '../language/compile';"],
    good: ["import '../protocol/validate';", "import './engineClient';"],
  },
  {
    file: 'extension/language/fixture.ts',
    bad: [
      "import 'vscode';",
      "import 'vscode-languageserver/node';",
      "import 'vscode-languageserver-textdocument';",
      "import 'node:fs';",
      "import 'fs';",
      "import '../engine/engine';",
      "import '../server/models';",
      "import '../host/main';",
      "require('./lexer');",
    ],
    good: ["import type { CompiledModel } from '../protocol/compiled-model';", "import './lexer';"],
  },
  {
    file: 'extension/protocol/fixture.ts',
    bad: ["import '../language';", "import '../engine/engine';", "import 'node:fs';", "import 'vscode';"],
    good: ["import * as v from 'valibot';", "import './engine';", "import './schema/base';"],
  },
  {
    file: 'extension/protocol/schema/fixture.ts',
    bad: ["import '../../language';", "import 'node:fs';"],
    good: ["import * as v from 'valibot';", "import '../moment';", "import './base';"],
  },
  {
    file: 'extension/cli/fixture.ts',
    bad: [
      "import 'vscode';",
      "import 'vscode-languageclient/node';",
      "import '../host/main';",
      "import '../server/main';",
    ],
    good: ["import '../language';", "import '../engine/engine';", "import '../protocol/engine';", "import 'node:fs';"],
  },
  {
    file: 'extension/fit/fixture.ts',
    bad: [
      "import 'vscode';",
      "import 'vscode-languageserver/node';",
      "import 'node:fs';",
      "import 'path';",
      "import '../language';",
      "import '../server/engineSession';",
      "import '../cli/main';",
      "import '../host/main';",
      "import '../../native/build/Release/phasic_engine.node';",
      "require('./bfgs');",
    ],
    good: [
      "import type { Engine } from '../engine/engine';",
      "import type { RunResult } from '../protocol/engine';",
      "import './likelihood';",
    ],
  },
  {
    file: 'extension/language/parser/fixture.ts',
    bad: ["import '../../fit/fit';"],
    good: ["import '../../protocol/compiled-model';"],
  },
  {
    file: 'extension/host/panel/fixture.ts',
    bad: ["import '../../fit/fit';", "import type { FitResult } from '../../fit/fit';"],
    good: ["import '../../protocol/engine';"],
  },
  {
    file: 'extension/cli/fit/fixture.ts',
    bad: [],
    good: ["import '../../fit/fit';"],
  },
  {
    file: 'extension/server/features/fixture.ts',
    bad: ["import 'vscode';", "import '../../host/main';"],
    good: [
      "import 'vscode-languageserver/node';",
      "import '../../language';",
      "import '../../engine/engine';",
      "import '../../fit/fit';",
    ],
  },
];

let dir = '';

before(() => {
  // A copy of biome.json at the root of a tree of fixtures: the overrides' globs are
  // relative to the configuration file, and the real tree is left untouched.
  dir = mkdtempSync(join(tmpdir(), 'phasic-boundaries-'));
  const config = JSON.parse(readFileSync(join(ROOT, 'biome.json'), 'utf8'));
  delete config.$schema;
  config.vcs = { enabled: false };
  writeFileSync(join(dir, 'biome.json'), JSON.stringify(config));
  for (const c of CASES) {
    mkdirSync(join(dir, dirname(c.file)), { recursive: true });
    writeFileSync(join(dir, c.file), `${[...c.bad, ...c.good].join('\n')}\n`);
  }
});

after(() => rmSync(dir, { recursive: true, force: true }));

// The lines biome reports under the two boundary rules, per file.
function reported(): Map<string, Set<number>> {
  const run = spawnSync(
    process.execPath,
    [
      BIOME,
      'lint',
      '--reporter=json',
      '--max-diagnostics=none',
      '--only=style/noRestrictedImports',
      '--only=style/noRestrictedGlobals',
      '.',
    ],
    { cwd: dir, encoding: 'utf8' },
  );
  assert.ok(run.stdout.trim().startsWith('{'), `biome gave no JSON report (exit ${run.status}): ${run.stderr}`);
  const report = JSON.parse(run.stdout) as {
    diagnostics: { category: string; location: { path: string; start: { line: number } } }[];
  };
  const lines = new Map<string, Set<number>>();
  for (const d of report.diagnostics) {
    assert.match(d.category, /^lint\/style\/noRestricted(Imports|Globals)$/, `unexpected diagnostic ${d.category}`);
    const file = d.location.path.replace(/\\/g, '/').replace(/^\.\//, '');
    if (!lines.has(file)) lines.set(file, new Set());
    lines.get(file)?.add(d.location.start.line);
  }
  return lines;
}

test('every import across a boundary is reported, and no allowed import is', () => {
  const lines = reported();
  for (const c of CASES) {
    const got = lines.get(c.file) ?? new Set<number>();
    c.bad.forEach((source, i) => {
      assert.ok(got.has(i + 1), `${c.file}: not reported: ${source}`);
    });
    c.good.forEach((source, i) => {
      assert.ok(!got.has(c.bad.length + i + 1), `${c.file}: reported, but the architecture allows it: ${source}`);
    });
  }
  assert.deepEqual(
    [...lines.keys()].filter((f) => !CASES.some((c) => c.file === f)),
    [],
    'reports on files that are not fixtures',
  );
});

test('each runtime folder has a boundary rule, at error level, on a folder that exists', () => {
  const config = JSON.parse(readFileSync(join(ROOT, 'biome.json'), 'utf8')) as {
    overrides: { includes: string[]; linter?: { rules?: { style?: { noRestrictedImports?: { level: string } } } } }[];
  };
  const guarded = config.overrides
    .filter((o) => o.linter?.rules?.style?.noRestrictedImports)
    .flatMap((o) => o.includes);
  for (const folder of [
    'webview/**',
    'extension/host/**',
    'extension/language/**',
    'extension/fit/**',
    'extension/cli/**',
  ]) {
    assert.ok(guarded.includes(folder), `no import boundary rule for ${folder}`);
  }
  // A rule whose folder was renamed or moved guards nothing.
  for (const glob of guarded) {
    const folder = glob.replace(/\/\*.*$/, '');
    assert.ok(existsSync(join(ROOT, folder)), `biome.json guards ${glob}, but ${folder}/ does not exist`);
  }
  for (const o of config.overrides) {
    const level = o.linter?.rules?.style?.noRestrictedImports?.level;
    if (level !== undefined)
      assert.equal(level, 'error', `${o.includes.join(', ')}: a boundary must fail the lint row`);
  }
});
