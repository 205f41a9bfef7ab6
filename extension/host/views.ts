// The views of a run and of the engine's memory, behind the small `Views` interface
// the commands use. The Studio panel records everything the engine reports from
// activation on, so a panel opened later still shows the whole timeline.
import * as vscode from 'vscode';
import type { FitStep } from '../protocol/engine';
import type { RunReply } from '../protocol/requests';
import type { EngineClient } from './engineClient';
import type { TimelineEvent, Views } from './hostContext';
import { StudioPanel } from './panel/studioPanel';

let nextFitId = 1;
/** The step listeners of the fits under way, by fit id. */
const fitListeners = new Map<number, (step: FitStep) => void>();

export function createViews(
  context: vscode.ExtensionContext,
  engine: EngineClient,
  output: vscode.OutputChannel,
): Views {
  const studio = StudioPanel.register(context, {
    evaluate: (traceKey, params) =>
      engine.request('phasic/evaluate', { traceKey, params, moments: 2, covariances: [] }),
    // The engine finds the model behind the trace key itself (it keeps the model's
    // text with the trace), so the host keeps no runs of its own.
    sccDetail: (traceKey, scc, params) => engine.request('phasic/sccDetail', { traceKey, scc, params }),
    // The engine's defaults: its grid to the 0.999 quantile, DEFAULT_QUANTILES, ε = 1e-10.
    distribution: async (traceKey, reward, params, signal) => {
      const cancel = new vscode.CancellationTokenSource();
      signal.addEventListener('abort', () => cancel.cancel(), { once: true });
      try {
        return await engine.request('phasic/distribution', { traceKey, reward, params }, cancel.token);
      } finally {
        cancel.dispose();
      }
    },
    fit: async (request, onStep, signal) => {
      const fitId = nextFitId++;
      fitListeners.set(fitId, onStep);
      const cancel = new vscode.CancellationTokenSource();
      signal.addEventListener('abort', () => cancel.cancel(), { once: true });
      try {
        return await engine.request('phasic/fit', { ...request, fitId }, cancel.token);
      } finally {
        fitListeners.delete(fitId);
        cancel.dispose();
      }
    },
    log: (message) => output.appendLine(`[panel] ${message}`),
  });

  engine.onNotification('phasic/fitProgress', ({ fitId, step }) => fitListeners.get(fitId)?.(step));
  engine.onNotification('phasic/memorySample', (sample) => studio.memorySample(sample));
  engine.onNotification('phasic/blockEvent', (event) => studio.blockEvent(event));
  engine.onDidChangeState((state) => {
    if (state !== 'running') return;
    engine.request('phasic/engineInfo', {}).then(
      (info) => studio.engineInfo(info),
      () => undefined,
    );
  });

  return {
    showMemory: () => studio.show('memory'),
    showRun(reply: RunReply) {
      studio.runResult(
        {
          uri: reply.model.uri,
          name: reply.model.name,
          params: reply.model.params,
        },
        reply.result,
      );
      studio.show('scc');
    },
    marker: (event: TimelineEvent) => studio.marker(event),
    cleared: (result) => studio.cleared(result),
    shownModel: () => studio.shownModel(),
    showFit: (source) => studio.showFit(source),
  };
}
