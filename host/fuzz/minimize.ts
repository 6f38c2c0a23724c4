/**
 * Delta debugging (Zeller and Hildebrandt's ddmin, complements only) of a
 * divergent trace: drop chunks of steps, ever smaller, while a fresh run of
 * both backends on what is left still diverges the same way (the same
 * signature: the same operation differing in the same field, or with the
 * same pair of errnos), until no single step can go. Each attempt starts
 * from scratch (new emulator kernel, a new key window on the kernel, every
 * queue of the attempt removed after it).
 *
 * Dropping a step drops the steps that need it too (those naming a queue
 * its msgget bound, an interrupt of its call: lockstep.ts: runnable()), so
 * a pair such as "create q1, remove q1" goes in one attempt, where dropping
 * either alone could never run; a candidate that would lose the divergent
 * step itself is not run. A candidate whose divergence shows earlier than
 * its last step is cut there. Attempts are bounded in number and time; a
 * minimization that hits a bound says so and keeps the shortest found.
 */

import { listSource, runnable, runTrace, type LanePair, type RunOptions, type RunResult } from './lockstep.js';
import type { FuzzStep } from './trace.js';

export interface MinimizeOptions {
  /** At most this many runs (default 2000). */
  maxRuns?: number;
  /** Stop after this many ms (default 180 000). */
  deadlineMs?: number;
}

export interface Minimized {
  steps: FuzzStep[];
  /** The run of `steps` that reproduced the divergence last. */
  result: RunResult;
  /** Runs made. */
  runs: number;
  /** False when a bound stopped it before it was 1-minimal. */
  complete: boolean;
}

/** Runs a fixed list of steps from scratch. */
export type Replay = (steps: readonly FuzzStep[]) => Promise<RunResult>;

/** A replay on fresh lanes of `pair`. */
export function replayOn(pair: LanePair, options: RunOptions): Replay {
  return (steps) => runTrace(pair, listSource(steps), options);
}

/**
 * The shortest subsequence of `steps` (which ends at the divergence) found to
 * diverge with `signature`. `first` is the run that found it, if at hand.
 */
export async function minimize(steps: readonly FuzzStep[], signature: string, replay: Replay, options: MinimizeOptions = {}, first?: RunResult): Promise<Minimized> {
  const maxRuns = options.maxRuns ?? 2000;
  const deadline = performance.now() + (options.deadlineMs ?? 180_000);
  let runs = 0;
  const tried = new Map<string, Minimized['steps'] | null>();
  let bestResult: RunResult | undefined = first;

  /** The candidate cut at its divergence when it reproduces; undefined when it does not (or cannot). */
  const attempt = async (wanted: FuzzStep[]): Promise<FuzzStep[] | undefined> => {
    const candidate = runnable(wanted);
    if (candidate.length === 0 || candidate[candidate.length - 1] !== wanted[wanted.length - 1]) return undefined;
    const key = candidate.map((s) => s.n).join(',');
    const known = tried.get(key);
    if (known !== undefined) return known ?? undefined;
    runs++;
    const r = await replay(candidate);
    const d = r.divergence;
    const ok = d !== undefined && d.signature === signature ? candidate.slice(0, r.steps) : undefined;
    tried.set(key, ok ?? null);
    if (ok !== undefined) bestResult = r;
    return ok;
  };
  const outOfBudget = (): boolean => runs >= maxRuns || performance.now() > deadline;

  let best = [...steps];
  if (bestResult === undefined) {
    const again = await attempt(best);
    if (again === undefined) return { steps: best, result: { records: [], steps: 0 }, runs, complete: false };
    best = again;
  }
  let chunks = 2;
  let complete = true;
  while (best.length > 1) {
    if (outOfBudget()) {
      complete = false;
      break;
    }
    const body = best.slice(0, -1);
    const size = Math.ceil(body.length / chunks);
    let reduced = false;
    // from the end backwards: late steps depend on early ones (queues they name), rarely the reverse
    for (let end = body.length; end > 0 && !reduced; end -= size) {
      if (outOfBudget()) break;
      const start = Math.max(0, end - size);
      const candidate = [...body.slice(0, start), ...body.slice(end), best[best.length - 1]!];
      const kept = await attempt(candidate);
      if (kept !== undefined) {
        best = kept;
        chunks = Math.max(chunks - 1, 2);
        reduced = true;
      }
    }
    if (reduced) continue;
    if (size <= 1) break;
    chunks = Math.min(chunks * 2, body.length);
  }
  return { steps: best, result: bestResult!, runs, complete };
}
