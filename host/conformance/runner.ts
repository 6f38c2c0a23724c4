/**
 * The conformance runner: runs a scenario on a Driver strictly step by step
 * (FORMAT.md "Steps"), and a suite of scenario files on several backends.
 *
 * Before each step every pending call is settled (driver.settle()): complete
 * or asleep again, so a step never races a wake-up an earlier step caused.
 * Every wait is bounded (the time limit, 5 s by default, plus the call's own
 * timeout), so a wrong backend fails a step instead of hanging the run. Each
 * scenario gets its own key window, queue-name prefix and directory, and its
 * driver is always closed, whatever happened.
 */

import { mkdtempSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import type { BackendName } from '../api.js';
import { errnoName } from '../errors.js';
import { decodeCall, ownTimeoutMs, resultIsPid } from './decode.js';
import type { CallHandle, Driver, Outcome } from './driver.js';
import { checkOutcome, normalizeKeys, Plain, showOutcome, type MatchContext, type Mismatch } from './match.js';
import { UnsupportedOp } from './ops.js';
import { checkRequires } from './requires.js';
import { loadScenarios, type CallStep, type LoadedScenario, type Scenario, type Step } from './scenario.js';
import { ScenarioError } from './scenario-error.js';
import { resolveRefs } from './values.js';

export { loadScenarios } from './scenario.js';
export type { LoadedScenario, Scenario } from './scenario.js';

export interface RunOptions {
  /** Native settle window in ms (FORMAT.md: default 50). */
  settleMs?: number;
  /** How long a call expected to complete, or a wait, may take before it fails (ms, default 5000), on top of the call's own timeout. */
  timeoutMs?: number;
  /** A fixed key base (tests); by default each scenario gets a fresh window. */
  keyBase?: number;
}

export type ScenarioStatus = 'pass' | 'fail' | 'skip';

export interface ScenarioResult {
  file?: string;
  title: string;
  status: ScenarioStatus;
  /** The first step that differed or could not run (1-based). */
  step?: number;
  /** For a result that differed: what the scenario expected and what happened, ready to print. */
  expected?: unknown;
  actual?: unknown;
  /** Why it was skipped, or why it failed without a result to compare ("scenario error: ...", "runner error: ..."). */
  reason?: string;
  ms: number;
}

export type MakeDriver = () => Driver | Promise<Driver>;

const DEFAULT_SETTLE_MS = 50;
const DEFAULT_TIMEOUT_MS = 5000;

/** A step whose result differs from its expectation. */
class StepFail extends Error {
  constructor(
    readonly step: number,
    readonly mismatch: Mismatch,
  ) {
    super(`step ${step}`);
  }
}

/** The runner or the backend failed: no kernel answer is known. */
class RunnerError extends Error {}

// Key windows: kref's layout (16384 keys from a base that is a multiple of
// 2^14), starting at a random window and moving on for every scenario, so
// that runs in this process never share one and other runs rarely do.
const LAST_WINDOW = (0x7fffffff >> 14) - 1;
let nextWindow = randomInt(0x100, LAST_WINDOW);

function takeWindow(): number {
  const w = nextWindow;
  nextWindow = nextWindow >= LAST_WINDOW ? 0x100 : nextWindow + 1;
  return w;
}

function sleep(ms: number): { promise: Promise<void>; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<void>((r) => {
    timer = setTimeout(r, ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  const t = sleep(ms);
  try {
    const r = await Promise.race([p.then((v) => ({ v })), t.promise.then(() => undefined)]);
    if (r === undefined) throw new RunnerError(`${what} did not finish within ${ms / 1000} s`);
    return r.v;
  } finally {
    t.cancel();
  }
}

interface Pending {
  handle: CallHandle;
  step: CallStep;
  extraMs: number;
  pidResult: boolean;
  /** The step at which the call's actor exited while the call was still asleep. */
  abandonedAt?: number;
}

/** One scenario on one started driver. */
class Run implements MatchContext {
  readonly names = new Map<string, Outcome>();
  readonly pending = new Map<string, Pending>();
  readonly calls: Pending[] = [];
  readonly actors = new Set<string>();
  readonly exited = new Map<string, number>();

  constructor(
    readonly driver: Driver,
    readonly keyBase: number,
    readonly mqPrefix: string,
    readonly dir: string,
    readonly timeoutMs: number,
  ) {}

  resolve(ref: string): unknown {
    if (ref.startsWith('pid:')) {
      const actor = ref.slice(4);
      if (!this.actors.has(actor)) throw new ScenarioError(`$${ref}: no actor named ${JSON.stringify(actor)}`);
      return this.driver.pid(actor);
    }
    const bound = this.names.get(ref);
    if (bound !== undefined) {
      if (!bound.ok) throw new ScenarioError(`$${ref} names a call that failed (${errnoName(bound.errno)})`);
      return bound.value;
    }
    if (this.pending.has(ref)) throw new ScenarioError(`$${ref} names a call that is still pending (wait for it first)`);
    throw new ScenarioError(`unknown name $${ref}`);
  }

  actorOfPid(pid: number): string | undefined {
    for (const a of this.actors) if (this.driver.pid(a) === pid) return a;
    return undefined;
  }

  get driverLimitMs(): number {
    return this.timeoutMs + 5000;
  }

  async settle(): Promise<void> {
    await bounded(this.driver.settle(), this.driverLimitMs, 'settling the pending calls');
  }

  /** Waits for a call's outcome as long as the rules allow; undefined if it has none then. */
  async outcomeOf(p: Pending): Promise<Outcome | undefined> {
    const h = p.handle;
    if (h.outcome === undefined) {
      if (this.driver.settlesExactly && p.extraMs === 0) {
        await this.settle();
      } else {
        const t = sleep(this.timeoutMs + p.extraMs);
        await Promise.race([h.done, t.promise]);
        t.cancel();
      }
    }
    const o = h.outcome;
    if (o === undefined) return undefined;
    if (!o.ok && o.fault !== undefined) throw new RunnerError(`${p.step.op} failed in the backend: ${o.fault}`);
    return o.ok ? { ok: true, value: normalizeKeys(o.value, this.keyBase) } : o;
  }

  /** What a call that gave no answer is shown as: exactly asleep, or silent for the whole time limit. */
  noAnswer(what: string, p: Pending): string {
    return this.driver.settlesExactly && p.extraMs === 0 ? what : `${what} (no answer after ${(this.timeoutMs + p.extraMs) / 1000} s)`;
  }

  show(p: Pending, o: Outcome): unknown {
    return showOutcome(o, this, p.pidResult);
  }

  check(n: number, expect: unknown, o: Outcome, p: Pending): void {
    const mismatch = checkOutcome(expect, o, this, p.pidResult);
    if (mismatch) throw new StepFail(n, mismatch);
  }

  bind(as: string | string[] | undefined, o: Outcome): void {
    if (as === undefined) return;
    if (typeof as === 'string') {
      this.names.set(as, o);
      return;
    }
    if (o.ok && (!Array.isArray(o.value) || o.value.length !== as.length)) {
      throw new ScenarioError(`'as' has ${as.length} names but the result is ${JSON.stringify(showOutcome(o, this))}`);
    }
    as.forEach((name, i) => this.names.set(name, o.ok ? { ok: true, value: (o.value as unknown[])[i] } : o));
  }

  abandoned(p: Pending, what: string, name: string): ScenarioError {
    return new ScenarioError(
      `${what} ${JSON.stringify(name)}: the call of step ${p.step.n} was abandoned when actor ${p.step.by} exited at step ${p.abandonedAt}`,
    );
  }

  async step(s: Step): Promise<void> {
    await this.settle();
    switch (s.kind) {
      case 'call':
        return this.call(s);
      case 'wait': {
        const p = this.pending.get(s.name)!;
        if (p.handle.outcome === undefined && p.abandonedAt !== undefined) throw this.abandoned(p, 'wait', s.name);
        const o = await this.outcomeOf(p);
        if (o === undefined) {
          throw new StepFail(s.n, {
            expected: s.expect === undefined ? new Plain('success') : s.expect,
            actual: new Plain(this.noAnswer('still blocked', p)),
          });
        }
        for (const [name, q] of [...this.pending]) if (q === p) this.pending.delete(name);
        this.check(s.n, s.expect, o, p);
        this.bind(p.step.as, o);
        this.bind(s.as, o);
        return;
      }
      case 'still': {
        const p = this.pending.get(s.name)!;
        const o = p.handle.outcome;
        if (o !== undefined) throw new StepFail(s.n, { expected: new Plain('still blocked'), actual: this.show(p, o) });
        if (p.abandonedAt !== undefined) throw this.abandoned(p, 'still', s.name);
        return;
      }
      case 'interrupt': {
        const p = this.pending.get(s.name)!;
        const o = p.handle.outcome;
        if (o !== undefined) throw new StepFail(s.n, { expected: new Plain('a blocked call to interrupt'), actual: this.show(p, o) });
        if (p.abandonedAt !== undefined) throw this.abandoned(p, 'interrupt', s.name);
        await bounded(this.driver.interrupt(p.handle, s.restart), this.driverLimitMs, `interrupting ${s.name}`);
        return;
      }
      case 'exit': {
        await bounded(this.driver.exit(s.by), this.driverLimitMs, `actor ${s.by}'s exit`);
        this.exited.set(s.by, s.n);
        // FORMAT.md: its blocked calls are abandoned; one that had completed can still be waited for
        for (const p of this.calls) if (p.step.by === s.by && p.handle.outcome === undefined) p.abandonedAt ??= s.n;
        return;
      }
      case 'fork':
        await bounded(this.driver.fork(s.by, s.child), this.driverLimitMs, `actor ${s.by}'s fork of ${s.child}`);
        this.actors.add(s.child);
        return;
    }
  }

  async call(s: CallStep): Promise<void> {
    if (this.exited.has(s.by)) throw new ScenarioError(`actor ${s.by} has exited`);
    const args = resolveRefs(s.args, (r) => this.resolve(r)) as unknown[];
    const decoded = decodeCall(s.op, args, { keyBase: this.keyBase, mqPrefix: this.mqPrefix, dir: this.dir });
    const handle = this.driver.call(s.by, s.op, decoded);
    const p: Pending = { handle, step: s, extraMs: ownTimeoutMs(s.op, decoded), pidResult: resultIsPid(s.op, decoded) };
    if (s.expect === 'blocks') {
      await this.settle();
      if (handle.outcome !== undefined) {
        const o = (await this.outcomeOf(p))!;
        throw new StepFail(s.n, { expected: new Plain('blocks'), actual: this.show(p, o) });
      }
      this.calls.push(p);
      const names = s.as === undefined ? [] : typeof s.as === 'string' ? [s.as] : s.as;
      for (const name of names) {
        this.names.delete(name);
        this.pending.set(name, p);
      }
      return;
    }
    const o = await this.outcomeOf(p);
    if (o === undefined) {
      this.calls.push(p);
      throw new StepFail(s.n, {
        expected: s.expect === undefined ? new Plain('success') : s.expect,
        actual: new Plain(this.noAnswer('blocks', p)),
      });
    }
    this.check(s.n, s.expect, o, p);
    this.bind(s.as, o);
  }
}

function isScenario(s: Scenario | LoadedScenario): s is Scenario {
  return 'steps' in s;
}

/**
 * Runs one scenario on a fresh driver from `makeDriver`: pass, fail (the
 * first step that differs, or why it could not run) or skip (a `requires`
 * that does not hold). The driver is closed whatever happened.
 */
export async function runScenario(scenario: Scenario | LoadedScenario, makeDriver: MakeDriver, options: RunOptions = {}): Promise<ScenarioResult> {
  const t0 = performance.now();
  const file = isScenario(scenario) ? undefined : scenario.file;
  const title = scenario.title;
  const done = (r: Omit<ScenarioResult, 'title' | 'ms' | 'file'>): ScenarioResult => ({
    ...(file !== undefined && { file }),
    title,
    ...r,
    ms: Math.round(performance.now() - t0),
  });
  let sc: Scenario;
  if (isScenario(scenario)) sc = scenario;
  else if (scenario.scenario) sc = scenario.scenario;
  else {
    const e = scenario.error ?? new ScenarioError('no scenario');
    return done({ status: 'fail', ...(e.step !== undefined && { step: e.step }), reason: `scenario error: ${e.message}` });
  }

  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let driver: Driver | undefined;
  let dir: string | undefined;
  let current: number | undefined;
  let result: Omit<ScenarioResult, 'title' | 'ms' | 'file'>;
  try {
    driver = await makeDriver();
    const skip = await checkRequires(sc.requires, sc.actors, { backend: driver.backend, ...(driver.probe && { probe: (w: string) => driver!.probe!(w) }) });
    if (skip !== undefined) {
      result = { status: 'skip', reason: skip };
    } else {
      const window = options.keyBase === undefined ? takeWindow() : undefined;
      const keyBase = options.keyBase ?? window! << 14;
      // FORMAT.md: a prefix of at most 32 characters
      const mqPrefix = `/ipcemu.${process.pid.toString(36)}.${(keyBase >>> 14).toString(36)}.`;
      // FORMAT.md: a fresh directory of the runner's own, mode 0777, not sticky
      dir = mkdtempSync(join(tmpdir(), 'ipcemu.'));
      chmodSync(dir, 0o777);
      const run = new Run(driver, keyBase, mqPrefix, dir, timeoutMs);
      await bounded(
        driver.start(sc.actors, { settleMs: options.settleMs ?? DEFAULT_SETTLE_MS, keyBase, mqPrefix, dir }),
        run.driverLimitMs,
        'starting the actors',
      );
      for (const a of Object.keys(sc.actors)) run.actors.add(a);
      for (const s of sc.steps) {
        current = s.n;
        await run.step(s);
      }
      result = { status: 'pass' };
    }
  } catch (e) {
    result = failure(e, current);
  }
  try {
    if (driver) await bounded(driver.close(), timeoutMs + 5000, 'closing the driver');
  } catch (e) {
    // objects may be left behind: that fails even a scenario that passed
    if (result.status !== 'fail') result = { status: 'fail', reason: `runner error: cleanup failed: ${message(e)}` };
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
  return done(result);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function failure(e: unknown, step: number | undefined): Omit<ScenarioResult, 'title' | 'ms' | 'file'> {
  const at = (n: number | undefined) => (n === undefined ? {} : { step: n });
  if (e instanceof StepFail) return { status: 'fail', step: e.step, expected: e.mismatch.expected, actual: e.mismatch.actual };
  if (e instanceof ScenarioError) return { status: 'fail', ...at(e.step ?? step), reason: `scenario error: ${e.message}` };
  if (e instanceof UnsupportedOp) return { status: 'fail', ...at(step), reason: e.message };
  return { status: 'fail', ...at(step), reason: `runner error: ${message(e)}` };
}

/** A backend the suite runs on, or one that is not available here (shown, counting nothing). */
export interface BackendEntry {
  name: BackendName;
  makeDriver?: MakeDriver;
  /** Why it cannot run here. */
  unavailable?: string;
}

export interface BackendReport {
  backend: BackendName;
  unavailable?: string;
  results: ScenarioResult[];
}

export interface SuiteReport {
  backends: BackendReport[];
  passed: number;
  failed: number;
  skipped: number;
}

export interface SuiteOptions extends RunOptions {
  /** Called before a backend's scenarios run (or for an unavailable one). */
  onBackend?(entry: BackendEntry): void;
  /** Called after each scenario. */
  onResult?(result: ScenarioResult, backend: BackendName): void;
}

/** Runs every scenario under `paths` on each backend in turn, one scenario at a time. */
export async function runSuite(paths: readonly string[], backends: readonly BackendEntry[], options: SuiteOptions = {}): Promise<SuiteReport> {
  const scenarios = loadScenarios(paths);
  const report: SuiteReport = { backends: [], passed: 0, failed: 0, skipped: 0 };
  for (const b of backends) {
    options.onBackend?.(b);
    const br: BackendReport = { backend: b.name, ...(b.unavailable !== undefined && { unavailable: b.unavailable }), results: [] };
    report.backends.push(br);
    if (b.unavailable !== undefined || b.makeDriver === undefined) continue;
    for (const s of scenarios) {
      const r = await runScenario(s, b.makeDriver, options);
      br.results.push(r);
      if (r.status === 'pass') report.passed++;
      else if (r.status === 'fail') report.failed++;
      else report.skipped++;
      options.onResult?.(r, b.name);
    }
  }
  return report;
}

