/**
 * The scenario model: a format-1 file (shared/conformance/FORMAT.md) parsed
 * and checked before anything runs. Everything that can be known without a
 * kernel is checked here, with the step it belongs to: the fields of the
 * file, of each actor and of each step, one kind per step, operation names
 * and argument counts, `expect` forms, `as` names, which names are pending
 * (a "blocks" call not yet waited for), which actors exist (listed, forked,
 * exited) and every "$name" / "$pid:A" reference. What depends on answers
 * (a name bound to a failed call, a call abandoned by an exit, argument
 * values after resolution) is checked by the runner at that step.
 */

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { errnoOf } from '../errors.js';
import { checkArity } from './decode.js';
import { parseJson } from './json.js';
import { ScenarioError } from './scenario-error.js';
import { describe, isRecord, refsIn } from './values.js';

/** An expectation as written (FORMAT.md "expect"); `undefined` when absent. */
export type Expect = unknown;

export interface ActorSpec {
  uid?: number;
  gid?: number;
}

export interface CallStep {
  kind: 'call';
  /** 1-based. */
  n: number;
  by: string;
  op: string;
  /** The arguments as written (resolved and decoded when the step runs). */
  args: unknown[];
  expect: Expect;
  as?: string | string[];
}
export interface WaitStep {
  kind: 'wait';
  n: number;
  name: string;
  by?: string;
  expect: Expect;
  as?: string | string[];
}
export interface StillStep {
  kind: 'still';
  n: number;
  name: string;
  by?: string;
}
export interface InterruptStep {
  kind: 'interrupt';
  n: number;
  name: string;
  restart: boolean;
  by?: string;
}
export interface ExitStep {
  kind: 'exit';
  n: number;
  by: string;
}
export interface ForkStep {
  kind: 'fork';
  n: number;
  by: string;
  child: string;
}
export type Step = CallStep | WaitStep | StillStep | InterruptStep | ExitStep | ForkStep;

export interface Scenario {
  format: 1;
  title: string;
  refs: string[];
  tags: string[];
  requires: string[];
  actors: Record<string, ActorSpec>;
  steps: Step[];
}

/** A scenario file as loaded: the scenario, or why it cannot run (reported as a failure). */
export interface LoadedScenario {
  file: string;
  /** The scenario's title, or the file name where there is none. */
  title: string;
  scenario?: Scenario;
  error?: ScenarioError;
}

const TOP_FIELDS = new Set(['format', 'title', 'refs', 'tags', 'requires', 'actors', 'steps']);
const STEP_KINDS = ['call', 'wait', 'still', 'interrupt', 'exit', 'fork'] as const;
const STEP_FIELDS: Record<(typeof STEP_KINDS)[number], ReadonlySet<string>> = {
  call: new Set(['by', 'call', 'expect', 'as']),
  wait: new Set(['wait', 'by', 'expect', 'as']),
  still: new Set(['still', 'by']),
  interrupt: new Set(['interrupt', 'restart', 'by']),
  exit: new Set(['by', 'exit']),
  fork: new Set(['by', 'fork']),
};

function stringArray(v: unknown, what: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new ScenarioError(`'${what}' must be an array of strings`);
  return v as string[];
}

function names(as: string | string[] | undefined): string[] {
  return as === undefined ? [] : typeof as === 'string' ? [as] : as;
}

function checkAs(v: unknown): string | string[] | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string' && v !== '') return v;
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' && x !== '') && new Set(v).size === v.length) {
    return v as string[];
  }
  throw new ScenarioError("'as' must be a name or an array of distinct names");
}

/** An object whose only key is `not` or `nonzero` is always a matcher (FORMAT.md). */
export function matcherOf(v: unknown): 'not' | 'nonzero' | undefined {
  if (!isRecord(v)) return undefined;
  const keys = Object.keys(v);
  return keys.length === 1 && (keys[0] === 'not' || keys[0] === 'nonzero') ? keys[0] : undefined;
}

/** Checks an `expect` (top level: errno, "blocks", a value; anywhere: matchers) as far as it can be without a result. */
export function checkExpect(expect: unknown, allowBlocks: boolean): void {
  if (expect === 'blocks') {
    if (!allowBlocks) throw new ScenarioError('a wait step cannot expect "blocks" (use a still step)');
    return;
  }
  if (isRecord(expect) && 'errno' in expect) {
    if (Object.keys(expect).length !== 1) throw new ScenarioError('an errno expectation is { "errno": NAME } alone');
    if (typeof expect.errno !== 'string' || errnoOf(expect.errno) === undefined) {
      throw new ScenarioError(`unknown errno name ${describe(expect.errno)}`);
    }
    return;
  }
  checkValue(expect);
}

function checkValue(v: unknown): void {
  const m = matcherOf(v);
  if (m === 'not') {
    const inner = (v as { not: unknown }).not;
    if (isRecord(inner) && 'errno' in inner) throw new ScenarioError('{"not": ...} takes a value, not an errno');
    checkValue(inner);
  } else if (m === 'nonzero') {
    if (typeof (v as { nonzero: unknown }).nonzero !== 'boolean') throw new ScenarioError('{"nonzero": ...} takes true or false');
  } else if (Array.isArray(v)) {
    v.forEach(checkValue);
  } else if (isRecord(v)) {
    if ('errno' in v) throw new ScenarioError('an errno expectation belongs at the top of "expect"');
    Object.values(v).forEach(checkValue);
  }
}

/** Static bookkeeping while checking steps in order. */
class Checker {
  /** Actors that exist now: listed, or forked by an earlier step. */
  readonly actors = new Set<string>();
  readonly exited = new Set<string>();
  /** Every actor name ever used (a fork must not reuse one). */
  readonly everActor = new Set<string>();
  /** Names bound to a result. */
  readonly bound = new Set<string>();
  /** Pending name → the call step that blocked (and its actor). */
  readonly pending = new Map<string, CallStep>();

  liveActor(v: unknown, what = 'by'): string {
    if (typeof v !== 'string') throw new ScenarioError(`'${what}' must name an actor`);
    if (!this.actors.has(v)) throw new ScenarioError(`no actor named ${describe(v)}`);
    if (this.exited.has(v)) throw new ScenarioError(`actor ${v} has exited`);
    return v;
  }

  refs(v: unknown): void {
    for (const ref of refsIn(v)) {
      if (ref.startsWith('pid:')) {
        if (!this.actors.has(ref.slice(4))) throw new ScenarioError(`$${ref}: no actor named ${describe(ref.slice(4))} (yet)`);
      } else if (this.pending.has(ref)) {
        throw new ScenarioError(`$${ref} names a call that is still pending (wait for it first)`);
      } else if (!this.bound.has(ref)) {
        throw new ScenarioError(`unknown name $${ref}`);
      }
    }
  }

  pendingCall(v: unknown, kind: string): CallStep {
    if (typeof v !== 'string') throw new ScenarioError(`'${kind}' must name a pending call`);
    const call = this.pending.get(v);
    if (call === undefined) throw new ScenarioError(`no pending call named ${describe(v)}`);
    return call;
  }

  bind(ns: string[]): void {
    for (const n of ns) {
      if (this.pending.has(n)) throw new ScenarioError(`'as' ${describe(n)} names another call that is still pending`);
      this.bound.add(n);
    }
  }
}

function checkStep(raw: unknown, n: number, c: Checker): Step {
  if (!isRecord(raw)) throw new ScenarioError('a step must be an object');
  const kinds = STEP_KINDS.filter((k) => k in raw);
  if (kinds.length !== 1) {
    throw new ScenarioError(`a step is one of call, wait, still, interrupt, exit, fork (this one has ${kinds.join(', ') || 'none'})`);
  }
  const kind = kinds[0]!;
  for (const k of Object.keys(raw)) {
    if (!STEP_FIELDS[kind].has(k)) throw new ScenarioError(`a ${kind} step has no field ${describe(k)}`);
  }
  switch (kind) {
    case 'call': {
      const by = c.liveActor(raw.by);
      const call = raw.call;
      if (!Array.isArray(call) || typeof call[0] !== 'string') throw new ScenarioError("'call' must be [OP, ARG, ...]");
      const [op, ...args] = call as [string, ...unknown[]];
      checkArity(op, args.length);
      c.refs(args);
      const expect = raw.expect;
      checkExpect(expect, true);
      c.refs(expect);
      const as = checkAs(raw.as);
      const step: CallStep = { kind, n, by, op, args, expect, ...(as !== undefined && { as }) };
      if (expect === 'blocks') {
        for (const name of names(as)) {
          if (c.pending.has(name)) throw new ScenarioError(`'as' ${describe(name)} names another call that is still pending`);
          c.bound.delete(name);
          c.pending.set(name, step);
        }
      } else {
        c.bind(names(as));
      }
      return step;
    }
    case 'wait': {
      const call = c.pendingCall(raw.wait, 'wait');
      if (raw.by !== undefined && raw.by !== call.by) throw new ScenarioError(`wait: call ${describe(raw.wait)} is actor ${call.by}'s, not ${describe(raw.by)}'s`);
      checkExpect(raw.expect, false);
      c.refs(raw.expect);
      const as = checkAs(raw.as);
      for (const [name, p] of [...c.pending]) if (p === call) c.pending.delete(name);
      c.bind([...names(call.as), ...names(as)]);
      return { kind, n, name: raw.wait as string, expect: raw.expect, ...(as !== undefined && { as }), ...(raw.by !== undefined && { by: call.by }) };
    }
    case 'still': {
      const call = c.pendingCall(raw.still, 'still');
      if (raw.by !== undefined && raw.by !== call.by) throw new ScenarioError(`still: call ${describe(raw.still)} is actor ${call.by}'s, not ${describe(raw.by)}'s`);
      return { kind, n, name: raw.still as string, ...(raw.by !== undefined && { by: call.by }) };
    }
    case 'interrupt': {
      const call = c.pendingCall(raw.interrupt, 'interrupt');
      if (raw.restart !== undefined && typeof raw.restart !== 'boolean') throw new ScenarioError("'restart' must be true or false");
      if (raw.by !== undefined && raw.by !== call.by) {
        throw new ScenarioError(`interrupt: call ${describe(raw.interrupt)} is actor ${call.by}'s, not ${describe(raw.by)}'s`);
      }
      return { kind, n, name: raw.interrupt as string, restart: raw.restart === true, ...(raw.by !== undefined && { by: call.by }) };
    }
    case 'exit': {
      if (raw.exit !== true) throw new ScenarioError('an exit step is {"by": ACTOR, "exit": true}');
      const by = c.liveActor(raw.by);
      c.exited.add(by);
      return { kind, n, by };
    }
    case 'fork': {
      const by = c.liveActor(raw.by);
      const child = raw.fork;
      if (typeof child !== 'string' || child === '') throw new ScenarioError("'fork' must give the new actor's name");
      if (c.everActor.has(child)) {
        throw new ScenarioError(`fork: there is already an actor ${child} (the new actor must not be listed in 'actors' nor made by an earlier fork)`);
      }
      c.actors.add(child);
      c.everActor.add(child);
      return { kind, n, by, child };
    }
  }
}

function checkActors(v: unknown): Record<string, ActorSpec> {
  if (!isRecord(v) || Object.keys(v).length === 0) throw new ScenarioError("'actors' must be a non-empty object");
  const out: Record<string, ActorSpec> = {};
  for (const [name, spec] of Object.entries(v)) {
    if (name === '') throw new ScenarioError('an actor needs a name');
    if (!isRecord(spec)) throw new ScenarioError(`actor ${name}: must be an object`);
    const actor: ActorSpec = {};
    for (const [k, x] of Object.entries(spec)) {
      if (k !== 'uid' && k !== 'gid') throw new ScenarioError(`actor ${name}: unknown field ${describe(k)} (an actor may set uid and gid)`);
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > 0xfffffffe) {
        throw new ScenarioError(`actor ${name}: ${k} must be a non-negative integer below 2^32 - 1`);
      }
      actor[k] = x;
    }
    out[name] = actor;
  }
  return out;
}

/** Checks a parsed scenario; throws a ScenarioError (with its step where it has one). */
export function validateScenario(raw: unknown): Scenario {
  if (!isRecord(raw)) throw new ScenarioError('a scenario must be a JSON object');
  if (raw.format !== 1) throw new ScenarioError(`unsupported format ${describe(raw.format)} (this runner reads format 1)`);
  for (const k of Object.keys(raw)) if (!TOP_FIELDS.has(k)) throw new ScenarioError(`unknown top-level field ${describe(k)}`);
  if (typeof raw.title !== 'string' || raw.title.trim() === '') throw new ScenarioError("'title' must be a non-empty string");
  const refs = stringArray(raw.refs, 'refs');
  const tags = stringArray(raw.tags, 'tags');
  const requires = stringArray(raw.requires, 'requires');
  const actors = checkActors(raw.actors);
  if (!Array.isArray(raw.steps) || raw.steps.length === 0) throw new ScenarioError("'steps' must be a non-empty array");
  const c = new Checker();
  for (const a of Object.keys(actors)) {
    c.actors.add(a);
    c.everActor.add(a);
  }
  const steps = raw.steps.map((s: unknown, i: number) => {
    try {
      return checkStep(s, i + 1, c);
    } catch (e) {
      throw e instanceof ScenarioError ? e.at(i + 1) : e;
    }
  });
  return { format: 1, title: raw.title, refs, tags, requires, actors, steps };
}

/** Parses and checks a scenario's text. */
export function parseScenario(text: string): Scenario {
  let raw: unknown;
  try {
    raw = parseJson(text);
  } catch (e) {
    throw new ScenarioError(`cannot parse: ${e instanceof Error ? e.message : String(e)}`);
  }
  return validateScenario(raw);
}

/** The *.json files under `paths`: a directory's own files (sorted), then its subdirectories (sorted), as kref orders them. */
export function scenarioFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) if (!e.isDirectory() && e.name.endsWith('.json')) out.push(join(dir, e.name));
    for (const e of entries) if (e.isDirectory()) walk(join(dir, e.name));
  };
  for (const p of paths) {
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      // a path that does not exist is loaded as a file, and reported as unreadable
    }
    if (isDir) walk(p);
    else out.push(p);
  }
  return out;
}

/** Loads one file; a file that cannot be read or checked carries its error instead of a scenario. */
export function loadScenario(file: string): LoadedScenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { file, title: basename(file), error: new ScenarioError(`cannot read scenario: ${e instanceof Error ? e.message : String(e)}`) };
  }
  let title = basename(file);
  try {
    const raw = parseJson(text);
    if (isRecord(raw) && typeof raw.title === 'string' && raw.title.trim() !== '') title = raw.title;
    return { file, title, scenario: validateScenario(raw) };
  } catch (e) {
    if (e instanceof ScenarioError) return { file, title, error: e };
    return { file, title, error: new ScenarioError(`cannot parse: ${e instanceof Error ? e.message : String(e)}`) };
  }
}

/** Every scenario under `paths` (directories recursively, *.json), in order. */
export function loadScenarios(paths: readonly string[]): LoadedScenario[] {
  return scenarioFiles(paths).map(loadScenario);
}
