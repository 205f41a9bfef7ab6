// The compiled-model JSON (docs/compiled-model.md): what the language front end
// produces and the engine loads. One definition for the compiler, the engine wrapper
// and the tests, so the two sides cannot drift apart silently.

/** A stack-machine program: opcodes followed by their immediate arguments. */
export type Program = number[];

/** A source range: 0-based start line, start column, end line, end column (exclusive, UTF-16). */
export type Site = [line: number, column: number, endLine: number, endColumn: number];

export interface CompiledParam {
  name: string;
  default: number;
  lo: number | null;
  hi: number | null;
}

export interface CompiledVariable {
  name: string;
  offset: number;
  dims: number[];
  lo: number;
  hi: number | null;
}

export interface CompiledStart {
  probability: number;
  state: number[];
  site: number;
}

export interface CompiledCondition {
  locals: number;
  code: Program;
  site: number;
}

export interface CompiledLoop {
  name: string;
  slot: number;
  lo: Program;
  hi: Program;
}

export type CompiledStep = { let: number; code: Program; site: number } | { when: Program; site: number };

export type UpdateOp = 'set' | 'add' | 'sub';

export interface CompiledUpdate {
  /** Yields the index into the state vector (the variable's offset included). */
  cell: Program;
  op: UpdateOp;
  value: Program;
  site: number;
}

export interface CompiledRule {
  name: string;
  site: number;
  locals: number;
  loops: CompiledLoop[];
  steps: CompiledStep[];
  /** P + 1 coefficient programs c0, c1 … cP; null is a zero coefficient. */
  rate: Array<Program | null>;
  rateSite: number;
  updates: CompiledUpdate[];
}

export interface CompiledReward {
  name: string;
  locals: number;
  code: Program;
  site?: number;
}

export interface CompiledModel {
  format: 'phasic-compiled-model';
  version: 1;
  name: string;
  params: CompiledParam[];
  stateLength: number;
  variables: CompiledVariable[];
  starts: CompiledStart[];
  absorb: CompiledCondition[];
  rules: CompiledRule[];
  rewards: CompiledReward[];
  sites: Site[];
}

/** Opcodes of the program format, by name (docs/compiled-model.md, "Programs"). */
export const Op = {
  CONST: 0,
  LOAD: 1,
  STORE: 2,
  CELL: 3,
  CELL_AT: 4,
  INDEX: 5,
  INT: 6,
  ADD: 7,
  SUB: 8,
  MUL: 9,
  DIV: 10,
  MOD: 11,
  NEG: 12,
  EQ: 13,
  NE: 14,
  LT: 15,
  LE: 16,
  GT: 17,
  GE: 18,
  NOT: 19,
  JUMP: 20,
  JUMP_IF_FALSE: 21,
  MIN: 22,
  MAX: 23,
  ABS: 24,
  FLOOR: 25,
  CEIL: 26,
  BINOM: 27,
  POP: 28,
  DUP: 29,
} as const;

/** How many immediate arguments each opcode takes. */
export const OP_ARGS: readonly number[] = [
  1, 1, 1, 1, 0, 2, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0,
];
