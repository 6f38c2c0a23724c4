/**
 * `ipcemu conformance`: runs scenario files on the backends asked for and
 * prints kref's lines, or one JSON report. Exit status: 0 when nothing
 * failed, 1 when a scenario failed (or the emulator, or the one backend
 * asked for, is not available), 2 on a usage error.
 */

import type { BackendName } from '../api.js';
import { BACKEND_NAMES, loadBackends } from './backends.js';
import { backendHeader, reportJson, resultLine, totalsLine } from './report.js';
import { runSuite, type BackendEntry } from './runner.js';

export interface CommandIO {
  out(line: string): void;
  err(line: string): void;
}

export interface ConformanceDefaults {
  /** The paths run when none are given (the package's own test/conformance). */
  paths: readonly string[];
  /** Finds the backends (tests substitute their own). */
  loadBackends?: (names: readonly BackendName[]) => Promise<BackendEntry[]>;
}

export const CONFORMANCE_HELP = `usage: ipcemu conformance [--backend emu|native|all] [--json] [--settle MS] [PATH...]

Runs conformance scenarios (FORMAT.md, format 1) on each backend and prints
one line per scenario: PASS title, FAIL title: step N: expected X, got Y,
or SKIP title: reason; then N passed, N failed, N skipped.

  --backend B   emu, native or all (default: all; a backend that cannot run
                here is listed with the reason and counts nothing)
  --json        print one JSON report instead of lines
  --settle MS   the native backend's settle window in ms (default 50)
  PATH          scenario files or directories (searched for *.json);
                default: the package's test/conformance

Exit status: 1 if any scenario failed, or if the emulator or the one
backend asked for is not available; 2 on a usage error.`;

class UsageError extends Error {}

interface Parsed {
  help: boolean;
  backends: readonly BackendName[];
  json: boolean;
  settleMs?: number;
  paths: string[];
}

function parse(argv: readonly string[]): Parsed {
  const out: Parsed = { help: false, backends: BACKEND_NAMES, json: false, paths: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.paths.push(...argv.slice(i + 1));
      break;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq >= 0) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--help' || flag === '-h') out.help = true;
    else if (flag === '--json') out.json = true;
    else if (flag === '--backend') {
      const b = value();
      if (b === 'all') out.backends = BACKEND_NAMES;
      else if ((BACKEND_NAMES as readonly string[]).includes(b)) out.backends = [b as BackendName];
      else throw new UsageError(`--backend takes emu, native or all, not ${JSON.stringify(b)}`);
    } else if (flag === '--settle') {
      const v = value();
      if (!/^\d+$/.test(v)) throw new UsageError(`--settle takes a number of milliseconds, not ${JSON.stringify(v)}`);
      out.settleMs = Number(v);
    } else if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option ${arg}`);
    else out.paths.push(arg);
  }
  return out;
}

export async function conformanceCommand(argv: readonly string[], io: CommandIO, defaults: ConformanceDefaults): Promise<number> {
  let opts: Parsed;
  try {
    opts = parse(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`ipcemu conformance: ${e.message}`);
    io.err(CONFORMANCE_HELP);
    return 2;
  }
  if (opts.help) {
    io.out(CONFORMANCE_HELP);
    return 0;
  }
  const backends = await (defaults.loadBackends ?? loadBackends)(opts.backends);
  const several = backends.length > 1;
  const report = await runSuite(opts.paths.length > 0 ? opts.paths : defaults.paths, backends, {
    ...(opts.settleMs !== undefined && { settleMs: opts.settleMs }),
    onBackend: (b) => {
      if (!opts.json && (several || b.unavailable !== undefined)) io.out(backendHeader(b.name, b.unavailable));
    },
    onResult: (r) => {
      if (!opts.json) io.out(resultLine(r));
    },
  });
  io.out(opts.json ? reportJson(report) : totalsLine(report));
  // the emulator runs everywhere, and a backend asked for by name must run: either missing fails the run
  const missing = backends.filter((b) => b.unavailable !== undefined && (!several || b.name === 'emu'));
  for (const b of missing) io.err(`ipcemu conformance: the ${b.name} backend is not available here: ${b.unavailable}`);
  return report.failed > 0 || missing.length > 0 ? 1 : 0;
}
