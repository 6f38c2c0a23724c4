/**
 * Child Node processes that use the native backend from source. Node 20
 * cannot run TypeScript, so the host's own modules (host/*.ts and
 * host/native/*.ts) are transpiled, types stripped, into a temporary copy of
 * the package layout, whose build/ is a link to ours: the loader's
 * `../../build/Release/ipcemu.node` then finds the addon just built.
 */

import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Which addon a copy's build/ holds: ours, none, or a file that is not a shared object. */
export type AddonVariant = 'built' | 'missing' | 'corrupt';

const copies = new Map<AddonVariant, string>();
/** The pids of every child started, for the ipcs ledger (leakedSince). */
export const spawned: number[] = [];
let scripts = 0;

function hostCopy(variant: AddonVariant): string {
  const known = copies.get(variant);
  if (known !== undefined) return known;
  const ts = createRequire(import.meta.url)('typescript') as typeof import('typescript');
  const made = mkdtempSync(join(tmpdir(), 'ipcemu-native-child-'));
  // Children may run as another uid: they must read the copy.
  chmodSync(made, 0o755);
  for (const sub of ['host', 'host/native']) {
    mkdirSync(join(made, sub), { recursive: true, mode: 0o755 });
    for (const name of readdirSync(join(ROOT, sub))) {
      if (!name.endsWith('.ts') || name.endsWith('.d.ts')) continue;
      const out = ts.transpileModule(readFileSync(join(ROOT, sub, name), 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      });
      writeFileSync(join(made, sub, name.replace(/\.ts$/, '.js')), out.outputText, { mode: 0o644 });
    }
  }
  if (variant === 'built') symlinkSync(join(ROOT, 'build'), join(made, 'build'));
  if (variant === 'corrupt') {
    mkdirSync(join(made, 'build', 'Release'), { recursive: true, mode: 0o755 });
    writeFileSync(join(made, 'build', 'Release', 'ipcemu.node'), 'not a shared object\n', { mode: 0o644 });
  }
  process.once('exit', () => rmSync(made, { recursive: true, force: true }));
  copies.set(variant, made);
  return made;
}

export interface ChildResult {
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** From spawn to exit. */
  ms: number;
}

/**
 * Runs `body` (an ES module's text; `openNative`, the host's constants and
 * IpcError are imported for it) in a child node, as `uid` if given, over a
 * copy whose addon is `addon` (default: the one built). Resolves once it
 * exits, or kills it after `limitMs` (the result then says so).
 */
export async function runChild(
  body: string,
  options: { uid?: number; limitMs?: number; args?: string[]; addon?: AddonVariant; env?: Record<string, string> } = {},
): Promise<ChildResult> {
  const copy = hostCopy(options.addon ?? 'built');
  const file = join(copy, `child-${process.pid}-${scripts++}.mjs`);
  writeFileSync(file, [
    `import { openNative } from './host/native/index.js';`,
    `import * as C from './host/constants.js';`,
    `import { IpcError } from './host/errors.js';`,
    body,
  ].join('\n'), { mode: 0o644 });
  const start = performance.now();
  const child = spawn(process.execPath, [file, ...(options.args ?? [])], {
    cwd: copy,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d; });
  child.stderr.on('data', (d: Buffer) => { stderr += d; });
  if (child.pid !== undefined) spawned.push(child.pid);
  const limit = setTimeout(() => child.kill('SIGKILL'), options.limitMs ?? 10_000);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(limit);
      resolve({ pid: child.pid, code, signal, stdout, stderr, ms: performance.now() - start });
    });
  });
}
