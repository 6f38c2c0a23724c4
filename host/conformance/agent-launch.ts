/**
 * How the native driver starts an actor agent, from the compiled package or
 * from source.
 *
 * Compiled (this file is dist/conformance/agent-launch.js): the agent is
 * dist/conformance/agent.js, run by plain `node`.
 *
 * From source (this file is host/conformance/agent-launch.ts, as under
 * vitest): Node 20 cannot run TypeScript, and vitest transforms TS only
 * inside its own process. So the driver's process transpiles every
 * host/**\/*.ts once with the `typescript` devDependency (types stripped,
 * nothing bundled) into a cache directory, and the agent runs with a module
 * hook (`--import register.mjs`) that (a) resolves our `./x.js` specifiers to
 * the `./x.ts` beside them and (b) loads a host `.ts` URL from its cached
 * JavaScript. Module URLs stay the real `file:///…/host/…ts` ones, so
 * `import.meta.url`-relative lookups (the addon's build/Release path) work
 * unchanged. The agent's channel thread (a worker_thread) inherits the
 * `--import`, so the hooks load its modules too. Loading `typescript` costs
 * about half a second, which is why the agent never loads it itself: the
 * cache is rebuilt only for files whose mtime changed since the last launch.
 */

import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** How to start an agent: node with these options, then the module. */
export interface AgentCommand {
  modulePath: string;
  execArgv: string[];
}

const FROM_SOURCE = import.meta.url.endsWith('.ts');

/** Runs inside the agent, on Node's loader thread. Plain JS: nothing may need transpiling here. */
const HOOKS = `
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
let root = '';
let cache = '';
export function initialize(data) { root = data.root; cache = data.cache; }
export async function resolve(specifier, context, next) {
  const parent = context.parentURL;
  if (parent && parent.startsWith(root) && specifier.endsWith('.js') && specifier.startsWith('.')) {
    const url = new URL(specifier, parent);
    const ts = url.href.slice(0, -3) + '.ts';
    if (url.href.startsWith(root) && !existsSync(fileURLToPath(url)) && existsSync(fileURLToPath(ts))) {
      return { url: ts, format: 'module', shortCircuit: true };
    }
  }
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (url.startsWith(root) && url.endsWith('.ts')) {
    const source = readFileSync(cache + '/' + decodeURIComponent(url.slice(root.length)) + '.js', 'utf8');
    return { format: 'module', source, shortCircuit: true };
  }
  return next(url, context);
}
`;

interface SourceCache {
  dir: string;
  /** host-relative path → mtimeMs of the version transpiled. */
  built: Map<string, number>;
}

let cache: SourceCache | undefined;

/** Cache directories are named `${CACHE_PREFIX}${pid}-XXXXXX` after the process that made them. */
const CACHE_PREFIX = 'ipcemu-agent-';

/**
 * Removes the caches of processes that are gone: a test framework may end
 * its workers with a signal, so the 'exit' listener that removes a cache does
 * not always run. Only our own directories are touched.
 */
function removeAbandonedCaches(): void {
  const uid = process.getuid?.();
  for (const name of readdirSync(tmpdir())) {
    const pid = /^ipcemu-agent-(\d+)-/.exec(name)?.[1];
    if (pid === undefined || processAlive(Number(pid))) continue;
    const path = join(tmpdir(), name);
    try {
      const st = lstatSync(path);
      if (st.isDirectory() && st.uid === uid) rmSync(path, { recursive: true, force: true });
    } catch {
      // removed by another process meanwhile
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another uid.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command that starts an agent here. */
export async function agentCommand(): Promise<AgentCommand> {
  const modulePath = fileURLToPath(new URL(FROM_SOURCE ? './agent.ts' : './agent.js', import.meta.url));
  if (!FROM_SOURCE) return { modulePath, execArgv: [] };
  const c = await refreshSourceCache();
  return { modulePath, execArgv: ['--import', pathToFileURL(join(c.dir, 'register.mjs')).href] };
}

async function refreshSourceCache(): Promise<SourceCache> {
  const hostRoot = fileURLToPath(new URL('../', import.meta.url));
  if (cache === undefined) {
    removeAbandonedCaches();
    const dir = mkdtempSync(join(tmpdir(), `${CACHE_PREFIX}${process.pid}-`));
    // Agents may run as other uids: they must read the cache.
    chmodSync(dir, 0o755);
    const rootUrl = pathToFileURL(hostRoot).href;
    writeFileSync(join(dir, 'hooks.mjs'), HOOKS, { mode: 0o644 });
    writeFileSync(join(dir, 'register.mjs'),
      `import { register } from 'node:module';\n` +
      `register(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)}, import.meta.url, ` +
      `{ data: ${JSON.stringify({ root: rootUrl, cache: dir })} });\n`, { mode: 0o644 });
    cache = { dir, built: new Map() };
    const made = cache;
    process.once('exit', () => rmSync(made.dir, { recursive: true, force: true }));
  }
  // typescript is CommonJS: Node's ESM import puts it under `default`.
  const loaded = await import('typescript');
  const ts = (loaded as unknown as { default?: typeof loaded }).default ?? loaded;
  for (const file of tsFiles(hostRoot)) {
    const rel = relative(hostRoot, file);
    const mtime = statSync(file).mtimeMs;
    if (cache.built.get(rel) === mtime) continue;
    const out = ts.transpileModule(readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        inlineSourceMap: true,
        inlineSources: true,
      },
    });
    const target = join(cache.dir, `${rel}.js`);
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    writeFileSync(target, out.outputText, { mode: 0o644 });
    cache.built.set(rel, mtime);
  }
  return cache;
}

function* tsFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* tsFiles(path);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) yield path;
  }
}
