/**
 * A whole fuzz run: episodes from one seeded generator until the operation
 * budget is spent, each on fresh lanes; each divergence minimized (the first
 * of its signature only: one bug tends to show again and again), confirmed
 * by two more runs, and written as a scenario.
 *
 * An episode that diverges stops there (ops counted up to the divergent
 * step); the next one starts from no queues.
 */

import { CAP_SYS_RESOURCE } from '../constants.js';
import { rootActorCaps } from '../conformance/requires.js';
import { Generator } from './generate.js';
import { listSource, runTrace, type Divergence, type LanePair, type RunResult } from './lockstep.js';
import { minimize, replayOn, type MinimizeOptions } from './minimize.js';
import type { CallState } from './normalize.js';
import { Rng } from './prng.js';
import { expectOf, jsonText, scenarioOf } from './scenario-out.js';
import { actorSpecs, type FuzzActor, type FuzzKind, type FuzzStep } from './trace.js';

/** Where Linux implements each kind: the scenario's refs. */
const KERNEL_SOURCES: Readonly<Record<FuzzKind, string>> = { msg: 'ipc/msg.c', sem: 'ipc/sem.c', pipe: 'fs/pipe.c', socket: 'net/unix/af_unix.c' };

export interface FuzzConfig {
  seed: number;
  ops: number;
  actors: readonly FuzzActor[];
  /** Operations per episode. */
  episode: number;
  limits: { msgmax: number; msgmnb: number };
  msgCopy: boolean;
  /** The object kinds to generate (default msg and sem). */
  kinds?: readonly FuzzKind[];
  /** Fork and exit actors that hold pipe and socket ends (default off). */
  forks?: boolean;
  settleMs?: number;
  /** The command line that replays this run, for the scenario's refs. */
  command: string;
  minimize?: MinimizeOptions;
}

export interface DivergenceReport {
  index: number;
  episode: number;
  step: number;
  signature: string;
  subject: string;
  reference: string;
  /** The earlier divergence with the same signature (this one is not minimized again). */
  sameAs?: number;
  originalSteps?: number;
  minimizedSteps?: number;
  runs?: number;
  /** False when minimization stopped at its bound. */
  complete?: boolean;
  /** How many of three runs of the minimized steps diverged the same way. */
  reproduced?: number;
  scenario?: Record<string, unknown>;
}

export interface FuzzReport {
  operations: number;
  episodes: number;
  /** Time spent running episodes (ms), minimization not included. */
  fuzzMs: number;
  minimizeMs: number;
  divergences: DivergenceReport[];
}

export interface FuzzHooks {
  /** A divergence was found (before it is minimized). */
  onDivergence?(d: DivergenceReport): void;
  /** A divergence has been minimized and its scenario written. */
  onMinimized?(d: DivergenceReport): void;
}

/** A call state in one line, as a scenario would expect it. */
export function showState(s: CallState): string {
  if (s === 'pending') return 'asleep';
  const text = 'fault' in s ? `fault: ${s.fault}` : jsonText(expectOf(s));
  return text.length > 400 ? text.slice(0, 400) + ' …' : text;
}

/** Runs the fuzzer on `pair`; a lane failure is thrown (LaneFailure), with nothing left on either backend. */
export async function fuzz(pair: LanePair, config: FuzzConfig, hooks: FuzzHooks = {}): Promise<FuzzReport> {
  const runOptions = { actors: actorSpecs(config.actors), ...(config.settleMs !== undefined && { settleMs: config.settleMs }) };
  const capSysResource = (rootActorCaps() & (1n << BigInt(CAP_SYS_RESOURCE))) !== 0n;
  const rng = new Rng(config.seed);
  const report: FuzzReport = { operations: 0, episodes: 0, fuzzMs: 0, minimizeMs: 0, divergences: [] };
  const bySignature = new Map<string, number>();

  const minimized = async (result: RunResult, r: DivergenceReport): Promise<void> => {
    const d = result.divergence!;
    const steps: FuzzStep[] = result.records.map((x) => x.step);
    const m = await minimize(steps, d.signature, replayOn(pair, runOptions), config.minimize, result);
    let reproduced = m.result.divergence?.signature === d.signature ? 1 : 0;
    for (let i = 0; i < 2; i++) {
      const again = await runTrace(pair, listSource(m.steps), runOptions);
      if (again.divergence?.signature === d.signature) reproduced++;
    }
    const final = m.result.divergence !== undefined ? m.result : result;
    r.scenario = scenarioOf(final.records, final.divergence!, {
      title: `fuzz seed ${config.seed} episode ${r.episode}: ${d.signature} (${pair.subject.label}/${pair.reference.label})`,
      refs: [config.command, ...(config.kinds ?? ['msg', 'sem']).map((k) => KERNEL_SOURCES[k])],
      actors: config.actors,
      capSysResource,
      msgmnb: config.limits.msgmnb,
    });
    Object.assign(r, { originalSteps: steps.length, minimizedSteps: m.steps.length, runs: m.runs, complete: m.complete, reproduced });
  };

  while (report.operations < config.ops) {
    report.episodes++;
    const t0 = performance.now();
    const generator = new Generator(rng, {
      actors: config.actors,
      limits: config.limits,
      ops: Math.min(config.episode, config.ops - report.operations),
      msgCopy: config.msgCopy,
      ...(config.kinds !== undefined && { kinds: config.kinds }),
      ...(config.forks === true && { forks: true }),
    });
    const result = await runTrace(pair, generator, runOptions);
    report.fuzzMs += performance.now() - t0;
    report.operations += result.steps;
    const d: Divergence | undefined = result.divergence;
    if (d === undefined) continue;

    const t1 = performance.now();
    const r: DivergenceReport = {
      index: report.divergences.length + 1, episode: report.episodes, step: d.at, signature: d.signature,
      subject: showState(d.subject), reference: showState(d.reference),
    };
    report.divergences.push(r);
    const same = bySignature.get(d.signature);
    if (same !== undefined) r.sameAs = same;
    else bySignature.set(d.signature, r.index);
    hooks.onDivergence?.(r);
    if (same === undefined) {
      await minimized(result, r);
      hooks.onMinimized?.(r);
    }
    report.minimizeMs += performance.now() - t1;
  }
  return report;
}
