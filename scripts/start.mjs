// `npm start` (after `npm run build`): opens the extension in a real VS Code on the
// examples/ workspace. A local `code` gets it as a development extension; without
// one, the pinned code-server (scripts/code-server.mjs) is installed into .cache/,
// started on 127.0.0.1 with the extension installed, and its URL printed. Runs until
// Ctrl-C. Rebuild (`node esbuild.mjs`) and "Developer: Reload Window" to see changes.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { installCodeServer, repoRoot, startCodeServer, tail } from './code-server.mjs';

const examples = join(repoRoot, 'examples');

function localCode() {
  const found = spawnSync('sh', ['-c', 'command -v code'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

const code = localCode();
if (code) {
  console.log(`Opening ${examples} in ${code} with the extension from ${repoRoot}`);
  const child = spawn(code, [`--extensionDevelopmentPath=${repoRoot}`, examples], { stdio: 'inherit' });
  child.on('exit', (status) => process.exit(status ?? 0));
} else {
  try {
    installCodeServer({ log: (line) => console.log(line) });
    const state = join(repoRoot, '.cache', 'start');
    const server = await startCodeServer({
      userDataDir: join(state, 'user-data'),
      extensionsDir: join(state, 'extensions'),
      workspace: examples,
      extensions: [repoRoot],
      port: 8080,
    });
    console.log(`\nPhasic Trace Studio is running in code-server (VS Code 1.96), bound to 127.0.0.1.`);
    console.log(`Open: ${server.workspaceUrl}`);
    console.log(`Log:  ${server.logFile}`);
    console.log('Press Ctrl-C to stop.');
    const stop = async () => {
      await server.stop();
      process.exit(0);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    server.process.on('exit', (status, signal) => {
      console.error(`code-server stopped (${status ?? signal}); its log:\n${tail(server.logFile)}`);
      process.exit(1);
    });
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
}
