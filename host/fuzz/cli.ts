/**
 * `ipcemu fuzz`: random message-queue operations run in lockstep on the
 * emulator and on the real kernel, every answer compared; each divergence
 * minimized and written as a conformance scenario. See FUZZ_HELP.
 */

import { randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { release } from 'node:os';
import type { CommandIO } from '../conformance/command.js';
import { DEFAULT_LIMITS, emuLane, LaneFailure, machineLimits, nativeLane, type LaneKind } from './lane.js';
import { DEFAULT_SETTLE_MS } from './lockstep.js';
import { MAX_SEED } from './prng.js';
import { fuzz, type DivergenceReport, type FuzzReport } from './run.js';
import { scenarioText } from './scenario-out.js';
import { defaultActors, FUZZ_KINDS, type FuzzActor, type FuzzKind } from './trace.js';

export const FUZZ_HELP = `usage: ipcemu fuzz [--ops N] [--seed S] [--actors K] [--json] [--out FILE] [--self-check] [--kinds msg,sem,pipe,socket] [--forks]

Runs N random message-queue and semaphore operations (msgget, msgsnd, msgrcv,
msgctl, semget, semop, semctl) by K
actors of several uids, step by step on the emulator and on the real kernel
(the native backend), and compares every answer. A divergence is minimized
(delta debugging, re-running both backends from scratch) and printed as a
conformance scenario with the kernel's answers as its expectations.

  --ops N        operations to run (default 1000)
  --seed S       the seed, 0..${MAX_SEED} (default: a random one, printed)
  --actors K     actors, 1..26 (default 4: root, uid 1000, uid 1001, root)
  --kinds LIST   object kinds to mix, from msg,sem,pipe,socket (default msg,sem)
  --forks        with pipe or socket: fork actors that hold ends and exit the children
  --json         print one JSON report (the closing line goes to stderr)
  --out FILE     write the scenario there (a second one to FILE.2.json, ...)
  --self-check   compare the emulator with a second emulator instead (needs
                 no kernel; any divergence is a bug in the emulator's
                 determinism or in the fuzzer)
  --settle MS    the native settle window in ms (default ${DEFAULT_SETTLE_MS}; a call
                 also counts as asleep only once /proc shows it in msgsnd/msgrcv)
  --episode L    operations per episode (default 200): each starts from no
                 queues and ends by removing them all

The closing line is "N operations, N divergences". Exit status: 0 without
divergence, 1 with one or more, 2 when there is nothing to compare against
(the native backend is not available, or failed) or on a usage error.`;

const DEFAULT_EPISODE = 200;

class UsageError extends Error {}

interface Options {
  help: boolean;
  ops: number;
  seed?: number;
  actors: number;
  json: boolean;
  out?: string;
  selfCheck: boolean;
  forks?: boolean;
  settleMs: number;
  episode: number;
  kinds?: FuzzKind[];
}

function parse(argv: readonly string[]): Options {
  const o: Options = { help: false, ops: 1000, actors: 4, json: false, selfCheck: false, settleMs: DEFAULT_SETTLE_MS, episode: DEFAULT_EPISODE };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq >= 0) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    const int = (lo: number, hi: number): number => {
      const v = value();
      if (!/^\d+$/.test(v) || Number(v) < lo || Number(v) > hi) throw new UsageError(`${flag} takes an integer in ${lo}..${hi}, not ${JSON.stringify(v)}`);
      return Number(v);
    };
    if (flag === '--help' || flag === '-h') o.help = true;
    else if (flag === '--json') o.json = true;
    else if (flag === '--self-check') o.selfCheck = true;
    else if (flag === '--forks') o.forks = true;
    else if (flag === '--ops') o.ops = int(1, 100_000_000);
    else if (flag === '--seed') o.seed = int(0, MAX_SEED);
    else if (flag === '--actors') o.actors = int(1, 26);
    else if (flag === '--settle') o.settleMs = int(0, 10_000);
    else if (flag === '--episode') o.episode = int(1, 100_000);
    else if (flag === '--out') o.out = value();
    else if (flag === '--kinds') {
      const ks = value().split(',');
      if (ks.length === 0 || ks.some((k) => !(FUZZ_KINDS as readonly string[]).includes(k))) {
        throw new UsageError(`--kinds takes a list from ${FUZZ_KINDS.join(',')}, not ${JSON.stringify(ks.join(','))}`);
      }
      o.kinds = [...new Set(ks as FuzzKind[])];
    }
    else throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
  }
  return o;
}

const stdio: CommandIO = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
};

/** FILE for the first scenario, FILE.k.json (before a .json extension) for the k-th. */
function outPath(base: string, k: number): string {
  if (k === 1) return base;
  const dot = base.endsWith('.json') ? base.length - 5 : base.length;
  return `${base.slice(0, dot)}.${k}${base.slice(dot)}`;
}

const BIG = '\u0000bigint:';

/** JSON with C longs beyond 2^53 as exact numbers. */
function jsonReport(report: unknown): string {
  const text = JSON.stringify(report, (_k, v: unknown) => (typeof v === 'bigint' ? BIG + v.toString() : v), 2);
  return text.replace(/"\\u0000bigint:(-?\d+)"/g, '$1');
}

function describeActor(a: FuzzActor): string {
  return a.uid === 0 && a.gid === 0 ? `${a.name} root` : `${a.name} ${a.uid}/${a.gid}`;
}

/**
 * The `ipcemu fuzz` command (argv without "fuzz"): resolves to the exit
 * status. `io` defaults to the process's stdout and stderr.
 */
export async function fuzzMain(argv: string[], io: CommandIO = stdio): Promise<number> {
  let o: Options;
  try {
    o = parse(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`ipcemu fuzz: ${e.message}`);
    io.err(FUZZ_HELP);
    return 2;
  }
  if (o.help) {
    io.out(FUZZ_HELP);
    return 0;
  }
  const say = (line: string): void => {
    if (!o.json) io.out(line);
  };
  const seed = o.seed ?? randomInt(0, 2 ** 48 - 1);
  const actors = defaultActors(o.actors);
  const limits = machineLimits();
  const differs = limits.msgmax !== DEFAULT_LIMITS.msgmax || limits.msgmnb !== DEFAULT_LIMITS.msgmnb || limits.msgmni !== DEFAULT_LIMITS.msgmni;
  // the emulator is given this machine's sysctls, so that it answers what this kernel answers
  const emuOptions = differs ? { emulator: { limits } } : {};
  const subject = emuLane('emu', emuOptions);
  let reference: LaneKind;
  if (o.selfCheck) {
    reference = emuLane('emu (second kernel)', emuOptions);
  } else {
    const native = await nativeLane();
    if ('unavailable' in native) {
      io.err(`ipcemu fuzz: the native backend is not available here (${native.unavailable}): nothing to compare the emulator against; --self-check runs it against itself`);
      return 2;
    }
    reference = native;
  }
  const command = `ipcemu fuzz --seed ${seed} --ops ${o.ops} --actors ${o.actors}${o.episode !== DEFAULT_EPISODE ? ` --episode ${o.episode}` : ''}${o.kinds !== undefined ? ` --kinds ${o.kinds.join(',')}` : ''}${o.forks === true ? ' --forks' : ''}${o.selfCheck ? ' --self-check' : ''}`;
  say(`# ${command}: ${subject.label} against ${reference.label}${o.selfCheck ? '' : ` (Linux ${release()})`}; actors ${actors.map(describeActor).join(', ')}`);

  let written = 0;
  const onDivergence = (d: DivergenceReport): void => {
    say(`DIVERGENCE ${d.index}: seed ${seed}, episode ${d.episode}, step ${d.step}: ${d.signature}`);
    say(`  ${subject.label}: ${d.subject}`);
    say(`  ${reference.label}: ${d.reference}`);
    if (d.sameAs !== undefined) say(`  the same as divergence ${d.sameAs}: not minimized again`);
  };
  const onMinimized = (d: DivergenceReport): void => {
    say(`# minimized from ${d.originalSteps} to ${d.minimizedSteps} steps in ${d.runs} runs${d.complete ? '' : ' (stopped at its bound: not 1-minimal)'}; the minimized steps reproduced it ${d.reproduced} of 3 times`);
    const text = scenarioText(d.scenario!);
    if (o.out === undefined) {
      say(text.trimEnd());
      return;
    }
    const file = outPath(o.out, ++written);
    writeFileSync(file, text);
    say(`# scenario written to ${file}`);
  };

  let report: FuzzReport;
  try {
    // MSG_COPY only where the kernel has it (CONFIG_CHECKPOINT_RESTORE): the emulator models one profile
    const msgCopy = (await reference.probe?.('msg_copy')) !== false;
    report = await fuzz({ subject, reference }, {
      seed, ops: o.ops, actors, episode: o.episode, limits, msgCopy, settleMs: o.settleMs, command, ...(o.kinds !== undefined && { kinds: o.kinds }), ...(o.forks === true && { forks: true }),
    }, { onDivergence, onMinimized });
  } catch (e) {
    io.err(`ipcemu fuzz: ${e instanceof LaneFailure ? '' : 'the run failed: '}${e instanceof Error ? e.message : String(e)}`);
    io.err(`ipcemu fuzz: nothing more can be compared (${command})`);
    return 2;
  } finally {
    await Promise.allSettled([subject.close(), reference.close()]);
  }

  const seconds = report.fuzzMs / 1000;
  const rate = seconds > 0 ? Math.round(report.operations / seconds) : 0;
  const closing = `${report.operations} operations, ${report.divergences.length} divergences`;
  if (o.json) {
    io.out(jsonReport({
      seed, command, subject: subject.label, reference: reference.label,
      operations: report.operations, episodes: report.episodes,
      seconds: Number(seconds.toFixed(2)), opsPerSecond: rate, minimizeSeconds: Number((report.minimizeMs / 1000).toFixed(2)),
      divergences: report.divergences,
    }));
    io.err(closing);
  } else {
    const minimizing = report.minimizeMs > 0 ? `; minimizing took ${(report.minimizeMs / 1000).toFixed(1)} s more` : '';
    say(`# ${report.operations} operations in ${report.episodes} episodes, ${seconds.toFixed(1)} s: ${rate} ops/s${minimizing}`);
    io.out(closing);
  }
  return report.divergences.length > 0 ? 1 : 0;
}
