// Phasic: Run Hierarchical Trace — on the model given, the one in view (modelChoice.ts),
// or a picked file (pickModel.ts).
import * as vscode from 'vscode';
import { LSPErrorCodes, ResponseError } from 'vscode-languageclient';
import type { RunPhase, RunResult } from '../../protocol/engine';
import { formatBytes, formatCount, formatNumber } from '../../protocol/format';
import { formatMoment, nonFiniteSummary } from '../../protocol/moment';
import { EngineStoppedError } from '../engineClient';
import type { HostContext } from '../hostContext';
import { reportEngineStopped } from './engineStopped';
import { askOverrides } from './overrides';
import { pickModel } from './pickModel';

const PHASE_TITLES: Record<RunPhase, string> = {
  exploring: 'Exploring states',
  decomposing: 'Finding SCCs',
  recording: 'Recording blocks',
  composing: 'Composing',
  evaluating: 'Evaluating',
  distribution: 'Computing the distribution',
};

let nextRunId = 1;

/**
 * The argument of `phasic.runTrace` from a keybinding, a task or another extension:
 * run this model with these constants, without asking for them.
 */
export interface RunRequest {
  uri: vscode.Uri | string;
  overrides: Record<string, number>;
}

function isRunRequest(arg: unknown): arg is RunRequest {
  if (typeof arg !== 'object' || arg === null || !('uri' in arg) || !('overrides' in arg)) return false;
  const { uri, overrides } = arg as Record<string, unknown>;
  return (
    (uri instanceof vscode.Uri || typeof uri === 'string') &&
    typeof overrides === 'object' &&
    overrides !== null &&
    Object.values(overrides).every((v) => typeof v === 'number' && Number.isFinite(v))
  );
}

async function targetModel(ctx: HostContext, arg: unknown): Promise<vscode.Uri | undefined> {
  if (arg instanceof vscode.Uri) return arg;
  if (typeof arg === 'string') return vscode.Uri.parse(arg);
  if (isRunRequest(arg)) return typeof arg.uri === 'string' ? vscode.Uri.parse(arg.uri) : arg.uri;
  return pickModel(ctx, 'run');
}

/** Runs a model; resolves with its result, or undefined when nothing ran to the end. */
export async function runTrace(ctx: HostContext, arg?: unknown): Promise<RunResult | undefined> {
  const uri = await targetModel(ctx, arg);
  if (!uri) return undefined;
  const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (document?.isDirty) await document.save();

  let constants: Parameters<typeof askOverrides>[2];
  try {
    constants = (await ctx.engine.request('phasic/describe', { uri: uri.toString(), overrides: {} })).constants;
  } catch (error) {
    await reportFailure(ctx, uri, error);
    return undefined;
  }
  const overrides = isRunRequest(arg) ? arg.overrides : await askOverrides(ctx.extension, uri, constants);
  if (!overrides) return undefined;

  const runId = nextRunId++;
  const name = uri.path.split('/').pop() ?? uri.toString();
  ctx.views.marker({ kind: 'runStart', label: name });
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Phasic: ${name}`, cancellable: true },
    async (progress, token) => {
      const subscription = ctx.progressOf(runId, (p) => {
        const count = p.total > 0 ? ` ${formatCount(p.done)}/${formatCount(p.total)}` : '';
        progress.report({ message: `${PHASE_TITLES[p.phase]}${count}` });
      });
      try {
        const reply = await ctx.engine.request(
          'phasic/run',
          { uri: uri.toString(), overrides, moments: 2, covariances: [], runId },
          token,
        );
        ctx.views.marker({ kind: 'runEnd', label: name });
        ctx.views.showRun(reply);
        const r = reply.result;
        const time = r.moments.time?.[0];
        ctx.output.appendLine(
          `[run] ${r.model}: ${formatCount(r.vertices)} states, ${formatCount(r.edges)} edges, ` +
            `${formatCount(r.sccs.count)} SCCs (largest ${r.sccs.largest}; ${r.sccs.recorded} recorded, ${r.sccs.cached} cached` +
            `${r.reused ? '; unchanged model, cached run reused' : ''}), ` +
            `${formatCount(r.trace.operations)} trace operations, E[time] = ${time === undefined ? '—' : formatMoment(time, formatNumber, r.nonFiniteCause)}, ` +
            `${r.timingsMs.total.toFixed(1)} ms, peak ${formatBytes(r.memory.peakAccountedBytes)} accounted`,
        );
        for (const what of nonFiniteSummary(r))
          ctx.output.appendLine(`[run] ${r.model}: ${what}: ${r.nonFinite ?? 'not finite'}`);
        return r;
      } catch (error) {
        // Stopped on purpose, by this run's Cancel or by a newer run of the model (the
        // engine's one reason to answer "cancelled" on its own): nothing failed.
        if (token.isCancellationRequested || superseded(error)) {
          ctx.views.marker({ kind: 'cancel', label: name });
          ctx.output.appendLine(
            `[run] ${name}: ${token.isCancellationRequested ? 'cancelled' : 'superseded by a newer run of the model'}`,
          );
          return undefined;
        }
        // Not awaited: the error message waits for the user's answer, and the run's
        // progress notification (with its Cancel button) must end now, not then.
        void reportFailure(ctx, uri, error);
        return undefined;
      } finally {
        subscription.dispose();
      }
    },
  );
}

function superseded(error: unknown): boolean {
  return error instanceof ResponseError && error.code === LSPErrorCodes.RequestCancelled;
}

async function reportFailure(ctx: HostContext, uri: vscode.Uri, error: unknown): Promise<void> {
  if (error instanceof EngineStoppedError) return reportEngineStopped(ctx, error);
  const message = error instanceof Error ? error.message : String(error);
  ctx.output.appendLine(`[run] ${uri.fsPath}: ${message}`);
  const choice = await vscode.window.showErrorMessage(`Phasic: ${message}`, 'Show Output');
  if (choice === 'Show Output') ctx.output.show(true);
}
