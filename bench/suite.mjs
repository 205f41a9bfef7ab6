// The fixed benchmark suite (issue 7) and the targets its numbers are compared with.
//
// Each entry names a model file (examples/ first, the test fixtures as fallback),
// the constant overrides that size it, and how many repetitions it gets: large models
// get fewer so the full suite stays within a sitting.

const rabbits = [20, 100, 500, 1000].map((N) => ({
  label: `rabbits N=${N}`,
  family: 'rabbits',
  file: 'rabbits.phasic',
  overrides: { N },
  reps: N >= 1000 ? 1 : N >= 500 ? 3 : 5,
  quick: N <= 100,
}));
const twoLocus = [3, 4, 5, 6, 7, 8, 9, 10].map((n) => ({
  label: `two-locus n=${n}`,
  family: 'two-locus',
  file: 'two_locus.phasic',
  overrides: { n },
  reps: n >= 10 ? 1 : n >= 9 ? 3 : 5,
  quick: n <= 6,
}));
const sfs = [10, 20, 30, 40].map((n) => ({
  label: `SFS n=${n}`,
  family: 'sfs',
  file: 'kingman_sfs.phasic',
  overrides: { n },
  reps: n >= 30 ? 3 : 5,
  quick: n <= 10,
}));
const structured = [
  [4, 3],
  [6, 3],
  [6, 4],
  [8, 4],
  [8, 5],
].map(([n, d]) => ({
  label: `structured n=${n} d=${d}`,
  family: 'structured',
  file: 'structured.phasic',
  overrides: { n, d },
  reps: 5,
  quick: n <= 4,
}));

export const SUITE = [...rabbits, ...twoLocus, ...sfs, ...structured];

// A target: which results it applies to, the measured value, the limit, and the
// direction. `value` returns undefined when the result lacks the number (e.g. the
// solver was skipped); such a target is reported as "n/a", never as met.
const MB = 1 << 20;
const is = (label) => (r) => r.label === label;
const all = () => true;

export const TARGETS = [
  {
    id: 'cold',
    text: 'two-locus n=8: explore + decompose + record + evaluate, cold ≤ 0.3 s',
    applies: is('two-locus n=8'),
    value: (r) => r.cold_run.wall_ms.median,
    limit: 300,
    unit: 'ms',
    atMost: true,
  },
  {
    id: 'warm',
    text: 'two-locus n=8: every block cached (the same model run again) ≤ 0.05 s',
    applies: is('two-locus n=8'),
    value: (r) => r.warm_run.wall_ms.median,
    limit: 50,
    unit: 'ms',
    atMost: true,
  },
  {
    id: 'rss-tl8',
    text: 'two-locus n=8: peak resident memory ≤ 150 MB',
    applies: is('two-locus n=8'),
    value: (r) => r.memory.run_peak_rss_bytes / MB,
    limit: 150,
    unit: 'MB',
    atMost: true,
  },
  {
    id: 'tl10',
    text: 'two-locus n=10 (59,522 vertices) completes',
    applies: is('two-locus n=10'),
    value: (r) => r.vertices,
    limit: 59522,
    unit: 'vertices',
    atMost: false,
  },
  {
    id: 'ops-tl8',
    text: 'two-locus n=8: trace ≤ 2 million operations',
    applies: is('two-locus n=8'),
    value: (r) => r.trace.operations,
    limit: 2e6,
    unit: 'ops',
    atMost: true,
  },
  {
    id: 'ops-lu',
    text: 'every model: trace operations ≤ 3 × LU flops (best ordering)',
    applies: all,
    value: (r) => r.derived.ops_per_lu_flop,
    limit: 3,
    unit: '×',
    atMost: true,
  },
  {
    id: 'eval-1',
    text: 'every model: evaluation ≤ 2 ns per operation, one θ',
    applies: all,
    value: (r) => r.evaluate.single_ns_per_op.median,
    limit: 2,
    unit: 'ns/op',
    atMost: true,
  },
  {
    id: 'eval-8',
    text: 'every model: ≤ 0.5 ns per operation per vector, 8 θ',
    applies: all,
    value: (r) => r.evaluate.batch8_ns_per_op.median,
    limit: 0.5,
    unit: 'ns/op',
    atMost: true,
  },
  {
    id: 'eval-64',
    text: 'every model: ≤ 0.5 ns per operation per vector, 64 θ',
    applies: all,
    value: (r) => r.evaluate.batch64_ns_per_op.median,
    limit: 0.5,
    unit: 'ns/op',
    atMost: true,
  },
  {
    id: 'gradient',
    text: 'every model: the gradient of the moments by every parameter ≤ 4 × one evaluation',
    applies: all,
    value: (r) => r.derived.gradient_over_eval,
    limit: 4,
    unit: '×',
    atMost: true,
  },
  {
    id: 'eval-vs-lu',
    text: 'every model: one evaluation ≥ 10 × faster than factorise + solve',
    applies: all,
    value: (r) => r.derived.solver_over_eval,
    limit: 10,
    unit: '×',
    atMost: false,
  },
  {
    id: 'record-vs-lu',
    text: "every model: recording ≤ 3 × the solver's analyse + factorise",
    applies: all,
    value: (r) => r.derived.record_over_solver,
    limit: 3,
    unit: '×',
    atMost: true,
  },
  {
    id: 'explore-rabbits',
    text: 'rabbits: exploration ≥ 1,000,000 states/s',
    applies: (r) => r.family === 'rabbits',
    value: (r) => r.phases.states_per_s,
    limit: 1e6,
    unit: 'states/s',
    atMost: false,
  },
  {
    id: 'explore-tl9',
    text: 'two-locus n=9: exploration ≥ 100,000 states/s',
    applies: is('two-locus n=9'),
    value: (r) => r.phases.states_per_s,
    limit: 1e5,
    unit: 'states/s',
    atMost: false,
  },
  {
    id: 'rabbits-1000',
    text: 'rabbits N=1000 completes with peak resident memory ≤ 8 GB',
    applies: is('rabbits N=1000'),
    value: (r) => r.memory.run_peak_rss_bytes / MB,
    limit: 8192,
    unit: 'MB',
    atMost: true,
  },
];
