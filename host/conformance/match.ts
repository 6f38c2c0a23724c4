/**
 * Matching a call's outcome against its `expect` (FORMAT.md "expect" and
 * "matchers"), and showing results in reports the way kref does: errors as
 * { errno }, data as a scenario would write it, modes as octal strings, pids
 * as "$pid:A", and a failed object restricted to the fields the expectation
 * names.
 */

import { errnoName, errnoOf } from '../errors.js';
import type { Outcome } from './driver.js';
import { decodeData, flagsValue, isRecord, formatData, resolveRefs, unkey } from './values.js';
import { matcherOf } from './scenario.js';
import { ScenarioError } from './scenario-error.js';

/** What matching needs from the run. */
export interface MatchContext {
  /** The value of "$name" / "$pid:A" (given without the "$"); throws a ScenarioError where there is none. */
  resolve(ref: string): unknown;
  /** The actor whose pid this is, for reports. */
  actorOfPid(pid: number): string | undefined;
}

/** A report value printed as it is, not as JSON ("success", "blocks", "still blocked"). */
export class Plain {
  constructor(readonly text: string) {}
  toJSON(): string {
    return this.text;
  }
}

/** How a step differs: what the scenario expected and what happened, both ready to print. */
export interface Mismatch {
  expected: unknown;
  actual: unknown;
}

const PID_FIELDS = new Set(['msg_lspid', 'msg_lrpid', 'shm_cpid', 'shm_lpid']);

/** A result with every `*_perm.key` mapped back to the scenario's key (keyBase subtracted; 0 stays 0). */
export function normalizeKeys(value: unknown, keyBase: number, inPerm = false): unknown {
  if (Array.isArray(value)) return value.map((x) => normalizeKeys(x, keyBase));
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(value)) {
    out[k] = inPerm && k === 'key' && typeof x === 'number' ? unkey(x, keyBase) : normalizeKeys(x, keyBase, k.endsWith('_perm'));
  }
  return out;
}

function isInteger(v: unknown): v is number | bigint {
  return typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v));
}

function sameNumber(a: unknown, b: unknown): boolean {
  if (isInteger(a) && isInteger(b)) return BigInt(a) === BigInt(b);
  return typeof a === 'number' && typeof b === 'number' && a === b;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Does `act` match the expectation `exp` (not an errno form)? A matcher that cannot apply is a ScenarioError. */
export function matchValue(exp: unknown, act: unknown, ctx: MatchContext): boolean {
  const m = matcherOf(exp);
  if (m === 'not') {
    const inner = (exp as { not: unknown }).not;
    if (isRecord(inner) && 'errno' in inner) throw new ScenarioError('{"not": ...} takes a value, not an errno');
    return !matchValue(inner, act, ctx);
  }
  if (m === 'nonzero') return isInteger(act) && (BigInt(act) !== 0n) === (exp as { nonzero: unknown }).nonzero;
  // FORMAT.md: results carry data the same way; a runner compares bytes
  if (act instanceof Uint8Array) return sameBytes(decodeData(resolveRefs(exp, (r) => ctx.resolve(r))), act);
  if (exp instanceof Uint8Array) return false;
  if (isRecord(exp)) {
    if (!isRecord(act)) return false;
    return Object.entries(exp).every(([k, v]) => Object.hasOwn(act, k) && matchValue(v, act[k], ctx));
  }
  if (Array.isArray(exp)) {
    return Array.isArray(act) && exp.length === act.length && exp.every((e, i) => matchValue(e, act[i], ctx));
  }
  if (typeof exp === 'boolean' || typeof act === 'boolean') return exp === act;
  if (typeof exp === 'string') {
    if (exp.startsWith('$')) {
      const v = exp.startsWith('$$') ? exp.slice(1) : ctx.resolve(exp.slice(1));
      // a bound value compares as a value, not as an expectation: a bound string is not a flags string
      if (typeof v === 'string') return v === act;
      return matchValue(v, act, ctx);
    }
    // FORMAT.md: modes and flags in results are numbers; a flags string stands for its number
    if (isInteger(act)) {
      const n = flagsValue(exp);
      return n !== undefined && n === BigInt(act);
    }
    return exp === act;
  }
  if (exp === null || act === null) return exp === act;
  return sameNumber(exp, act);
}

/**
 * Checks an outcome against a call's or wait's `expect` (not "blocks",
 * which the runner handles). Returns undefined when it matches.
 */
export function checkOutcome(expect: unknown, outcome: Outcome, ctx: MatchContext, resultIsPid = false): Mismatch | undefined {
  const actual = (): unknown => showOutcome(outcome, ctx, resultIsPid);
  if (expect === undefined) return outcome.ok ? undefined : { expected: new Plain('success'), actual: actual() };
  if (isRecord(expect) && 'errno' in expect) {
    const want = errnoOf(String(expect.errno));
    if (want === undefined) throw new ScenarioError(`unknown errno name ${JSON.stringify(expect.errno)}`);
    return !outcome.ok && outcome.errno === want ? undefined : { expected: expect, actual: actual() };
  }
  if (!outcome.ok) return { expected: expect, actual: actual() };
  if (matchValue(expect, outcome.value, ctx)) return undefined;
  return { expected: expect, actual: project(actual(), expect) };
}

/** An outcome for reports. */
export function showOutcome(outcome: Outcome, ctx: MatchContext, resultIsPid = false): unknown {
  if (!outcome.ok) return { errno: errnoName(outcome.errno) };
  return show(outcome.value, ctx, resultIsPid ? '$pid' : undefined);
}

/** A result for reports: data as a scenario writes it, modes in octal, pids as "$pid:A". */
export function show(v: unknown, ctx: MatchContext, field?: string): unknown {
  if (v instanceof Uint8Array) return formatData(v);
  if (Array.isArray(v)) return v.map((x) => show(x, ctx, field));
  if (isRecord(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = show(x, ctx, k);
    return out;
  }
  if (typeof v === 'number' && Number.isInteger(v)) {
    if (field === 'mode' && v >= 0) return '0' + v.toString(8).padStart(3, '0');
    if ((field === '$pid' || (field !== undefined && PID_FIELDS.has(field))) && v !== 0) {
      const actor = ctx.actorOfPid(v);
      if (actor !== undefined) return `$pid:${actor}`;
    }
  }
  if (typeof v === 'string' && v.startsWith('$')) return '$' + v;
  return v;
}

/** The shown result restricted to the fields the expectation names (nested), "<missing>" for absent ones. */
export function project(shown: unknown, exp: unknown): unknown {
  if (!isRecord(exp) || !isRecord(shown) || matcherOf(exp) !== undefined || 'hex' in exp || 'repeat' in exp) return shown;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(exp)) out[k] = Object.hasOwn(shown, k) ? project(shown[k], v) : new Plain('<missing>');
  return out;
}

/** JSON text for reports, with bigints as exact digits and Plain values inline. */
export function toJsonText(v: unknown): string {
  if (v instanceof Plain) return JSON.stringify(v.text);
  if (typeof v === 'bigint') return v.toString();
  if (v === undefined) return 'null';
  if (Array.isArray(v)) return `[${v.map(toJsonText).join(', ')}]`;
  if (isRecord(v)) return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${toJsonText(x)}`).join(', ')}}`;
  return JSON.stringify(v) ?? 'null';
}

/** A value in a FAIL line: Plain text as it is, anything else as JSON. */
export function showInLine(v: unknown): string {
  return v instanceof Plain ? v.text : toJsonText(v);
}
