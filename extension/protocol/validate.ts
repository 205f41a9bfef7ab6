// Validation of what the engine process sends the extension host. The engine is a
// separate process speaking JSON-RPC: a reply that does not have the shape of
// protocol/requests.ts (a bug in another version of the engine, a corrupted stream,
// a process that is not ours on the other end) must be rejected with a message
// naming the field, never half-used by the host or forwarded to the webview.
//
// Use: `parseEngineReply(method, value)` on every request's result and
// `parseEngineNotification(method, params)` on every notification; act only on
// `ok` results. The shapes are the schemas of protocol/schema/engine.ts. The engine
// process checks the host's request parameters with `parseEngineRequest`
// (protocol/schema/requests.ts).
import * as v from 'valibot';
import type { EngineNotifications, EngineRequests } from './requests';
import { type Parsed, parse } from './schema/base';
import * as s from './schema/engine';
import * as r from './schema/requests';

type ReplySchemas = { [M in keyof EngineRequests]: v.GenericSchema<unknown, EngineRequests[M]['result']> };
const REPLIES: ReplySchemas = {
  'phasic/engineInfo': s.engineInfo,
  'phasic/describe': s.modelSpec,
  'phasic/run': s.runReply,
  'phasic/evaluate': s.evaluateResult,
  'phasic/clearCaches': s.clearResult,
  'phasic/memory': s.memorySnapshot,
  'phasic/sccDetail': s.sccDetail,
  'phasic/distribution': s.distributionResult,
  'phasic/spectrum': s.spectrum,
  'phasic/fit': s.fitResult,
};

export type EngineToHost =
  | 'phasic/progress'
  | 'phasic/memorySample'
  | 'phasic/blockEvent'
  | 'phasic/warning'
  | 'phasic/fitProgress';
type NotificationSchemas = { [M in EngineToHost]: v.GenericSchema<unknown, EngineNotifications[M]> };
const NOTIFICATIONS: NotificationSchemas = {
  'phasic/progress': s.progressNotification,
  'phasic/memorySample': s.memorySnapshot,
  'phasic/blockEvent': s.blockEvent,
  'phasic/warning': s.warningNotification,
  'phasic/fitProgress': s.fitProgressNotification,
};

/** Checks the result of an engine request against its type. */
export function parseEngineReply<M extends keyof EngineRequests>(
  method: M,
  value: unknown,
): Parsed<EngineRequests[M]['result']> {
  return parse(REPLIES[method], value, `${method} reply`);
}

/** Checks an engine → host notification's parameters against their type. */
export function parseEngineNotification<M extends EngineToHost>(
  method: M,
  params: unknown,
): Parsed<EngineNotifications[M]> {
  return parse(NOTIFICATIONS[method], params, method);
}

// Host → engine: requests without parameters take whatever the client sends ({}, or
// nothing); the others are checked field by field.
const anything = v.unknown() as v.GenericSchema<unknown, Record<string, never>>;
type ParamSchemas = { [M in keyof EngineRequests]: v.GenericSchema<unknown, EngineRequests[M]['params']> };
const PARAMS: ParamSchemas = {
  'phasic/engineInfo': anything,
  'phasic/describe': r.describeParams,
  'phasic/run': r.runParams,
  'phasic/evaluate': r.evaluateParams,
  'phasic/clearCaches': anything,
  'phasic/memory': anything,
  'phasic/sccDetail': r.sccDetailParams,
  'phasic/distribution': r.distributionParams,
  'phasic/spectrum': r.spectrumParams,
  'phasic/fit': r.fitParams,
};

/** Checks the parameters of a host → engine request, in the engine process. */
export function parseEngineRequest<M extends keyof EngineRequests>(
  method: M,
  params: unknown,
): Parsed<EngineRequests[M]['params']> {
  return parse(PARAMS[method], params, `${method} params`);
}
