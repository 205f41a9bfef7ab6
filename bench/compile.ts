// Compiles one .phasic model to the compiled-model JSON the bench binary reads, with
// constant overrides — the same front end the extension uses, so the benchmark
// measures exactly the models users run.
//   node out/bench/compile.js <model.phasic> <out.json> [name=value ...]
import { readFileSync, writeFileSync } from 'node:fs';
import { compileModel } from '../extension/language/index';

function fail(message: string): never {
  process.stderr.write(`bench/compile: ${message}\n`);
  process.exit(1);
}

const [source, target, ...assignments] = process.argv.slice(2);
if (!source || !target) fail('usage: compile.js <model.phasic> <out.json> [name=value ...]');

const overrides: Record<string, number> = {};
for (const assignment of assignments) {
  const match = /^([A-Za-z_]\w*)=(.+)$/.exec(assignment);
  const value = match ? Number(match[2]) : NaN;
  if (!match || !Number.isFinite(value)) fail(`override '${assignment}' is not name=number`);
  overrides[match[1]] = value;
}

const { model, diagnostics } = compileModel(readFileSync(source, 'utf8'), source, overrides);
const errors = diagnostics.filter((d) => d.severity === 'error');
if (!model || errors.length > 0) {
  for (const d of errors)
    process.stderr.write(`${source}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.message}\n`);
  fail(`${source} did not compile`);
}
writeFileSync(target, JSON.stringify(model));
