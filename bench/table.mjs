// The Markdown form of a benchmark report: what bench/results.md holds and what
// docs/performance.md quotes. Numbers with a target carry ✓ (met) or ✗ (missed).

const MB = 1 << 20;

function num(v, digits = 3) {
  if (v === undefined || v === null || Number.isNaN(v)) return '–';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toPrecision(digits)} M`;
  if (a >= 1000) return `${Math.round(v).toLocaleString('en-US')}`;
  return Number(v.toPrecision(digits)).toString();
}
const int = (v) => (v === undefined ? '–' : Math.round(v).toLocaleString('en-US'));

function ms(v) {
  if (v === undefined || v === null) return '–';
  if (v === 0) return '0';
  if (v >= 1000) return `${(v / 1000).toPrecision(3)} s`;
  if (v >= 1) return `${v.toPrecision(3)} ms`;
  return `${(v * 1000).toPrecision(3)} µs`;
}

// median ± half the range, as a percentage of the median (omitted for one sample).
function timed(s, scale = 1) {
  if (!s) return '–';
  const spread = s.n > 1 && s.median > 0 ? ` ±${Math.round((50 * (s.max - s.min)) / s.median)}%` : '';
  return `${ms(s.median * scale)}${spread}`;
}
function perOp(s) {
  if (!s) return '–';
  const spread = s.n > 1 && s.median > 0 ? ` ±${Math.round((50 * (s.max - s.min)) / s.median)}%` : '';
  return `${s.median.toPrecision(3)}${spread}`;
}

export function markdown(report) {
  const { results, targets, machine } = report;
  const mark = (label, id) => {
    const v = targets.filter((t) => t.label === label && t.target === id);
    if (v.length === 0) return '';
    return v.every((t) => t.status === 'met') ? ' ✓' : v.some((t) => t.status === 'missed') ? ' ✗' : '';
  };
  const ok = results.filter((r) => !r.error);
  const lines = [];
  const row = (cells) => lines.push(`| ${cells.join(' | ')} |`);
  const head = (cells) => {
    row(cells);
    row(cells.map((_, i) => (i === 0 ? '---' : '---:')));
  };

  lines.push(
    `Benchmark (${report.mode}), ${report.date}, commit ${machine.commit || '?'}: ${machine.cpu}, ` +
      `${machine.nproc} cores, ${(machine.memory_bytes / 2 ** 30).toFixed(1)} GiB, load average ` +
      `${machine.load_average_start.map((l) => l.toFixed(1)).join('/')} at start, ` +
      `${machine.load_average_end.map((l) => l.toFixed(1)).join('/')} at end.`,
    '',
  );

  lines.push('**Structure and trace size**', '');
  head([
    'model',
    'vertices',
    'edges',
    'SCCs',
    'largest SCC',
    'blocks',
    'trace ops',
    'commands',
    'LU flops (solver)',
    'nnz(L+U)',
    'ops / LU flops',
  ]);
  for (const r of ok)
    row([
      r.label,
      int(r.vertices),
      int(r.edges),
      int(r.sccs),
      int(r.largest_scc),
      int(r.blocks),
      `${num(r.trace.operations)}${mark(r.label, 'ops-tl8')}`,
      num(r.trace.commands),
      r.derived.lu_flops === undefined
        ? '–'
        : r.derived.lu_flops === 0
          ? '0 (triangular after BTF)'
          : `${num(r.derived.lu_flops)} (${r.derived.lu_flops_solver})`,
      num(r.derived.nnz_lu),
      `${num(r.derived.ops_per_lu_flop)}${mark(r.label, 'ops-lu')}`,
    ]);

  lines.push(
    '',
    '**Phases** (median ± half the range over the repetitions. Exploration runs on two threads: ' +
      'it and the whole product runs are elapsed (wall) time, CPU time in brackets; the other phases are CPU time. ' +
      'A warm run reuses the cached run of the same model text; an edited run explores again and finds every block ' +
      'in the cache)',
    '',
  );
  head([
    'model',
    'reps',
    'explore',
    'states/s',
    'condense',
    'record',
    'compose',
    'cold run',
    'warm run (reused)',
    'edited run (blocks cached)',
    'peak RSS (run)',
    'ledger peak',
  ]);
  for (const r of ok)
    row([
      r.label,
      r.reps,
      `${timed(r.phases.explore_wall_ms)} (${ms(r.phases.explore_ms.median)})`,
      `${num(r.phases.states_per_s)}${mark(r.label, 'explore-rabbits')}${mark(r.label, 'explore-tl9')}`,
      timed(r.phases.condense_ms),
      timed(r.phases.record_ms),
      timed(r.phases.compose_ms),
      `${timed(r.cold_run.wall_ms)}${mark(r.label, 'cold')} (${ms(r.cold_run.cpu_ms.median)})`,
      `${timed(r.warm_run.wall_ms)}${mark(r.label, 'warm')} (${ms(r.warm_run.cpu_ms.median)})`,
      `${timed(r.blocks_cached_run.wall_ms)} (${ms(r.blocks_cached_run.cpu_ms.median)})`,
      `${num(r.memory.run_peak_rss_bytes / MB)} MB${mark(r.label, 'rss-tl8')}${mark(r.label, 'rabbits-1000')}`,
      `${num(r.memory.run_ledger_peak_bytes / MB)} MB`,
    ]);

  lines.push(
    '',
    '**Evaluation and recording against sparse direct solvers** (ns/op = evaluation time / ' +
      "(trace ops + solves × commands); a solver's cost per θ = assemble + factorise + solves × solve, " +
      'with the same number of solves as one evaluation)',
    '',
  );
  head([
    'model',
    'evaluate 1 θ',
    'ns/op 1 θ',
    'ns/op/θ, 8 θ',
    'ns/op/θ, 64 θ',
    'gradient / evaluate',
    'fastest solver, per θ',
    'solver / evaluate',
    'UMFPACK per θ',
    'UMFPACK / evaluate',
    'record + compose',
    'solver analyse + factorise',
    'record / solver',
  ]);
  for (const r of ok) {
    const d = r.derived;
    row([
      r.label,
      timed(r.evaluate.single_ms),
      `${perOp(r.evaluate.single_ns_per_op)}${mark(r.label, 'eval-1')}`,
      `${perOp(r.evaluate.batch8_ns_per_op)}${mark(r.label, 'eval-8')}`,
      `${perOp(r.evaluate.batch64_ns_per_op)}${mark(r.label, 'eval-64')}`,
      `${num(d.gradient_over_eval)}${mark(r.label, 'gradient')}`,
      d.solver_fastest ? `${ms(d.solver_per_theta_ms)} (${d.solver_fastest})` : '–',
      `${num(d.solver_over_eval)}${mark(r.label, 'eval-vs-lu')}`,
      d.umfpack ? ms(d.umfpack_per_theta_ms) : '–',
      num(d.umfpack_over_eval),
      ms(d.record_ms),
      d.solver_setup ? `${ms(d.solver_analyse_factor_ms)} (${d.solver_setup})` : '–',
      `${num(d.record_over_solver)}${mark(r.label, 'record-vs-lu')}`,
    ]);
  }

  lines.push('', '**What the trace is made of** (counted at each use of a block trace)', '');
  head([
    'model',
    'DOT',
    'ADD',
    'MUL',
    'MULADD',
    'INV',
    'forward commands',
    'solve commands',
    'solve terms',
    'trace MB',
  ]);
  for (const r of ok) {
    const m = r.trace.op_mix;
    row([
      r.label,
      num(m.dot),
      num(m.add),
      num(m.mul),
      num(m.muladd),
      num(m.inv),
      num(m.forward),
      num(m.solve),
      num(m.terms),
      num(r.trace.bytes / MB),
    ]);
  }

  lines.push('', '**Every solver run** (E[time] checked against the trace, relative 1e-8)', '');
  head(['model', 'solver', 'analyse', 'factorise', 'solve', 'flops', 'nnz(L+U)', 'agrees']);
  for (const r of ok)
    for (const s of r.solver?.runs ?? [])
      row([
        r.label,
        s.name,
        timed(s.analyse_ms),
        s.skipped ? `skipped: ${s.skipped}` : timed(s.factorise_ms),
        timed(s.solve_ms),
        num(s.skipped ? undefined : s.flops),
        num(s.nnz_lu),
        s.skipped ? '–' : s.agrees ? 'yes' : `**NO** (rel ${s.relative_difference?.toExponential(2)})`,
      ]);

  const failed = results.filter((r) => r.error);
  if (failed.length > 0) {
    lines.push('', '**Did not complete**', '');
    for (const r of failed) lines.push(`- ${r.label}: ${r.error}`);
  }

  // One row per target: how many of the models it applies to meet it, and the worst.
  lines.push('', '**Targets** (per target: models meeting it, and the furthest from it)', '');
  head(['target', 'limit', 'met', 'worst (model)']);
  for (const id of [...new Set(targets.map((t) => t.target))]) {
    const rows = targets.filter((t) => t.target === id);
    const judged = rows.filter((t) => t.status !== 'n/a');
    const worst = judged.reduce((w, t) => {
      if (t.value === undefined) return t;
      if (w === undefined || w.value === undefined) return w ?? t;
      return (t.atMost ? t.value > w.value : t.value < w.value) ? t : w;
    }, undefined);
    const met = judged.filter((t) => t.status === 'met').length;
    const na = rows.length - judged.length;
    row([
      rows[0].text,
      `${rows[0].atMost ? '≤' : '≥'} ${num(rows[0].limit)} ${rows[0].unit}`,
      `${met === judged.length ? '✓' : '✗'} ${met} of ${judged.length}${na ? ` (${na} n/a)` : ''}`,
      worst
        ? `${worst.value === undefined ? 'did not complete' : `${num(worst.value)} ${worst.unit}`} (${worst.label})`
        : '–',
    ]);
  }
  const met = targets.filter((t) => t.status === 'met').length;
  lines.push('', `${met} of ${targets.length} target checks met.`, '');
  return lines.join('\n');
}
