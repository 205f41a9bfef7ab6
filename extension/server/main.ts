// The engine process: a language server for `.phasic` files that also hosts the
// native engine. The extension host starts it as a child process, so a crash here
// never takes the editor down. Requests are typed in extension/protocol/requests.ts.
import {
  type CancellationToken,
  type Connection,
  createConnection,
  ErrorCodes,
  type InitializeResult,
  ProposedFeatures,
  ResponseError,
  TextDocumentSyncKind,
  TextDocuments,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { EngineNotifications, EngineRequests } from '../protocol/requests';
import { parseEngineRequest } from '../protocol/validate';
import { EngineSession } from './engineSession';
import { registerLanguageFeatures } from './features';
import { engineSettingsFrom } from './settings';

const connection = createConnection(ProposedFeatures.all);
const documents = new TextDocuments(TextDocument);

function onRequest<M extends keyof EngineRequests>(
  c: Connection,
  method: M,
  handler: (
    params: EngineRequests[M]['params'],
    token: CancellationToken,
  ) => Promise<EngineRequests[M]['result']> | EngineRequests[M]['result'],
): void {
  // The map types both ends; the registration itself is by method name. Parameters
  // are checked against the same schemas that type them before the engine sees them.
  c.onRequest(method, (params: unknown, token: CancellationToken): Promise<unknown> | unknown => {
    const parsed = parseEngineRequest(method, params);
    if (!parsed.ok) throw new ResponseError(ErrorCodes.InvalidParams, parsed.error);
    return handler(parsed.value, token);
  });
}

function notify<M extends keyof EngineNotifications>(method: M, params: EngineNotifications[M]): void {
  void connection.sendNotification(method, params);
}

let session: EngineSession | undefined;

connection.onInitialize((params): InitializeResult => {
  const features = registerLanguageFeatures(connection, documents, {
    lastRun: (uri) => session?.lastRun(uri),
    engineDiagnostics: (uri) => session?.diagnosticsFor(uri) ?? [],
  });
  session = new EngineSession(engineSettingsFrom(params.initializationOptions), documents, notify, features.refresh);
  return {
    capabilities: { textDocumentSync: TextDocumentSyncKind.Incremental, ...features.capabilities },
    serverInfo: { name: 'phasic-engine', version: session.info().version },
  };
});

connection.onInitialized(() => session?.startSampling());

onRequest(connection, 'phasic/engineInfo', () => required().info());
onRequest(connection, 'phasic/describe', (p) => required().describe(p.uri, p.overrides));
onRequest(connection, 'phasic/run', (p, token) => required().run(p, token));
onRequest(connection, 'phasic/evaluate', (p) => required().evaluate(p));
onRequest(connection, 'phasic/clearCaches', () => required().clearCaches());
onRequest(connection, 'phasic/memory', () => required().memory());
onRequest(connection, 'phasic/sccDetail', (p) => required().sccDetail(p));
onRequest(connection, 'phasic/distribution', (p, token) => required().distribution(p, token));
onRequest(connection, 'phasic/spectrum', (p) => required().spectrum(p.data));
onRequest(connection, 'phasic/fit', (p, token) => required().fit(p, token));
connection.onNotification('phasic/configure', (settings: unknown) =>
  required().configure(engineSettingsFrom(settings)),
);
connection.onShutdown(() => session?.dispose());

function required(): EngineSession {
  if (!session) throw new Error('the engine process was not initialized');
  return session;
}

documents.listen(connection);
connection.listen();
