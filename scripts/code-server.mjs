// A real VS Code for machines that cannot download one: code-server, pinned to the
// last line that runs on Node 20 (4.96.x = VS Code 1.96), installed from npm into the
// ignored .cache/code-server/ folder and always bound to 127.0.0.1. The install
// follows code-server's own postinstall.sh, with two changes that keep it working
// offline from anything but the npm registry: @vscode/proxy-agent comes from its
// registry tarball instead of a git URL, and ripgrep is the Debian binary instead of
// a download. Used by `npm start` (scripts/start.mjs) and the e2e tests.
//
//   node scripts/code-server.mjs install   installs (idempotent) and prints the entry
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const VERSION = '4.96.4';
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const installRoot = join(repoRoot, '.cache', 'code-server');
const packageDir = join(installRoot, 'node_modules', 'code-server');
export const entry = join(packageDir, 'out', 'node', 'entry.js');
// Written last: its presence with the right version means every step completed.
const marker = join(installRoot, 'installed-version');

// The extension's folder name in an extensions dir: <publisher>.<name>-<version>.
export function extensionFolderName(manifestDir) {
  const manifest = JSON.parse(readFileSync(join(manifestDir, 'package.json'), 'utf8'));
  return `${manifest.publisher}.${manifest.name}-${manifest.version}`;
}

export function isInstalled() {
  return existsSync(marker) && readFileSync(marker, 'utf8').trim() === VERSION && existsSync(entry);
}

function run(command, args, cwd, log) {
  log(`$ (cd ${cwd} && ${command} ${args.join(' ')})`);
  const result = spawnSync(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(
      `code-server install step failed (${command} ${args.join(' ')} in ${cwd}, exit ${result.status ?? result.signal}):\n` +
        `${result.stdout ?? ''}\n${result.stderr ?? ''}`.trim().split('\n').slice(-40).join('\n'),
    );
  }
}

function link(target, path) {
  rmSync(path, { recursive: true, force: true });
  symlinkSync(target, path);
}

function which(command) {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

// Installs code-server unless a complete install of VERSION is already there. A
// partial install (no marker) is removed and redone: each step assumes the previous
// ones ran exactly once.
export function installCodeServer({ log = (line) => console.error(line) } = {}) {
  if (isInstalled()) return entry;
  const rg = which('rg');
  if (!rg) throw new Error('code-server needs ripgrep: install the Debian package "ripgrep" (apt-get install ripgrep)');
  const started = Date.now();
  log(`Installing code-server ${VERSION} into ${installRoot} (about two minutes, once)`);
  rmSync(installRoot, { recursive: true, force: true });
  mkdirSync(installRoot, { recursive: true });
  writeFileSync(
    join(installRoot, 'package.json'),
    JSON.stringify({ private: true, description: 'code-server for e2e tests and npm start' }) + '\n',
  );
  run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', `code-server@${VERSION}`], installRoot, log);

  const vscodeDir = join(packageDir, 'lib', 'vscode');
  const shrinkwrapPath = join(vscodeDir, 'npm-shrinkwrap.json');
  const shrinkwrap = JSON.parse(readFileSync(shrinkwrapPath, 'utf8'));
  const proxyAgent = shrinkwrap.packages?.['node_modules/@vscode/proxy-agent'];
  if (!proxyAgent) throw new Error(`${shrinkwrapPath}: no entry for node_modules/@vscode/proxy-agent`);
  proxyAgent.resolved = `https://registry.npmjs.org/@vscode/proxy-agent/-/proxy-agent-${proxyAgent.version}.tgz`;
  writeFileSync(shrinkwrapPath, JSON.stringify(shrinkwrap, null, 2) + '\n');

  run('npm', ['install', '--ignore-scripts', '--omit=dev', '--no-audit', '--no-fund'], vscodeDir, log);
  const rgBin = join(vscodeDir, 'node_modules', '@vscode', 'ripgrep', 'bin');
  mkdirSync(rgBin, { recursive: true });
  link(rg, join(rgBin, 'rg'));
  run('npm', ['rebuild'], vscodeDir, log);
  // The rest of code-server's postinstall.sh (vscode_install).
  link('node_modules', join(vscodeDir, 'node_modules.asar'));
  link('code-linux.sh', join(vscodeDir, 'bin', 'remote-cli', 'code-server'));
  link('browser-linux.sh', join(vscodeDir, 'bin', 'helpers', 'browser.sh'));
  run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund'], join(vscodeDir, 'extensions'), log);
  run('npm', ['rebuild', 'argon2'], installRoot, log);

  writeFileSync(marker, VERSION + '\n');
  log(`code-server ${VERSION} installed in ${Math.round((Date.now() - started) / 1000)} s`);
  return entry;
}

function portIsFree(port) {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

// The first free port on 127.0.0.1 from `preferred` on.
export async function freePort(preferred = 8080) {
  for (let port = preferred; port < preferred + 100; port++) if (await portIsFree(port)) return port;
  throw new Error(`no free port on 127.0.0.1 in ${preferred}..${preferred + 99}`);
}

// The paths of the packaged extension, from the .vscodeignore allowlist (its `!`
// lines) plus what vsce always adds: an exact path as it is, a pattern as the folder
// before its first wildcard.
export function shippedPaths(folder) {
  const ignoreFile = join(folder, '.vscodeignore');
  const allowed = existsSync(ignoreFile)
    ? readFileSync(ignoreFile, 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.startsWith('!'))
        .map((l) => l.slice(1))
    : [];
  const paths = new Set(['package.json', 'README.md']);
  for (const pattern of allowed) {
    const wildcard = pattern.search(/[*?[{]/);
    paths.add(wildcard < 0 ? pattern : dirname(pattern.slice(0, wildcard) + '_'));
  }
  return [...paths].filter((p) => p !== '.' && existsSync(join(folder, p)));
}

// Installs an unpacked extension into an extensions dir under its proper id
// (code-server has no --extensionDevelopmentPath). The folder is made of links to the
// shipped paths only: linking a whole checkout would make VS Code walk node_modules
// and .cache to compute the extension's size, which stalls the workbench for minutes.
// Links, not copies, so a rebuild shows after "Developer: Reload Window" (a changed
// manifest needs a new install: restart npm start).
export function installExtension(extensionsDir, folder) {
  const target = join(extensionsDir, extensionFolderName(folder));
  rmSync(target, { recursive: true, force: true });
  for (const path of shippedPaths(folder)) {
    mkdirSync(dirname(join(target, path)), { recursive: true });
    // package.json is copied: code-server rewrites an installed extension's manifest
    // (it adds __metadata), which must never reach the checkout through a link.
    if (path === 'package.json') copyFileSync(join(folder, path), join(target, path));
    else symlinkSync(join(folder, path), join(target, path));
  }
  return target;
}

async function waitUntilAnswering(url, child, logFile, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `code-server exited (${child.exitCode ?? child.signalCode}) before answering; its log: ${logFile}\n${tail(logFile)}`,
      );
    }
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `code-server did not answer on ${url} within ${timeoutMs / 1000} s; its log: ${logFile}\n${tail(logFile)}`,
  );
}

export function tail(file, lines = 30) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Starts code-server on 127.0.0.1 and resolves once it answers.
 * @param {object} options
 * @param {string} options.userDataDir   code-server's user data (settings, logs)
 * @param {string} options.extensionsDir where extensions are installed
 * @param {string} options.workspace     folder to open
 * @param {string[]} [options.extensions] extension folders to install (installExtension)
 * @param {number} [options.port]        preferred port (the next free one is used)
 * @param {object} [options.settings]    extra user settings
 * @param {object} [options.env]         extra environment (reaches the extension host)
 * @returns {Promise<{url: string, port: number, workspaceUrl: string, logFile: string, userDataDir: string, process: import('node:child_process').ChildProcess, stop: () => Promise<void>}>}
 */
export async function startCodeServer({
  userDataDir,
  extensionsDir,
  workspace,
  extensions = [],
  port = 8080,
  settings = {},
  env = {},
  timeoutMs = 60_000,
}) {
  if (!isInstalled())
    throw new Error(`code-server ${VERSION} is not installed: run node scripts/code-server.mjs install`);
  mkdirSync(join(userDataDir, 'User'), { recursive: true });
  writeFileSync(
    join(userDataDir, 'User', 'settings.json'),
    JSON.stringify(
      {
        // Without these a modal trust dialog and a welcome page sit over every click.
        'security.workspace.trust.enabled': false,
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'telemetry.telemetryLevel': 'off',
        'update.mode': 'none',
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        ...settings,
      },
      null,
      2,
    ) + '\n',
  );
  for (const folder of extensions) installExtension(extensionsDir, folder);
  const chosen = await freePort(port);
  const logFile = join(userDataDir, 'code-server.log');
  const log = createWriteStream(logFile);
  const child = spawn(
    process.execPath,
    // --config: code-server otherwise creates and reads ~/.config/code-server/config.yaml.
    [
      entry,
      '--config',
      join(userDataDir, 'config.yaml'),
      '--auth',
      'none',
      '--bind-addr',
      `127.0.0.1:${chosen}`,
      '--user-data-dir',
      userDataDir,
      '--extensions-dir',
      extensionsDir,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      workspace,
    ],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const url = `http://127.0.0.1:${chosen}`;
  const stop = () =>
    new Promise((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', () => done());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    });
  try {
    await waitUntilAnswering(url, child, logFile, timeoutMs);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    port: chosen,
    workspaceUrl: `${url}/?folder=${encodeURIComponent(workspace)}`,
    logFile,
    userDataDir,
    process: child,
    stop,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const command = process.argv[2];
  if (command === 'install') {
    try {
      console.log(installCodeServer());
    } catch (error) {
      console.error(error.message);
      process.exit(1);
    }
  } else {
    console.error('usage: node scripts/code-server.mjs install');
    process.exit(2);
  }
}
