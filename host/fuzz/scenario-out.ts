/**
 * A divergent run written as a FORMAT.md scenario, with the kernel's
 * (reference's) answers as `expect`, ready to drop into test/conformance/
 * as a regression scenario: it passes on the kernel and fails on the
 * emulator at the step where they differ.
 *
 * - a msgget that created a queue is bound `as` "q<n>"; one that found an
 *   existing queue expects "$q<m>"; where the emulator's msgget named an old
 *   queue while the kernel made a new one, it expects { "not": "$q<m>" };
 * - a call asleep on the kernel expects "blocks" and is named "c<n>"; a
 *   `wait` for it follows the step during which it ended; where the
 *   emulator ended a call the kernel still has asleep, a `still` follows;
 * - times are { "nonzero": bool }; pids "$pid:A"; a pid that is a thread
 *   of an actor (msg_lrpid after a pipelined receive) is { "nonzero": true },
 *   since scenarios never depend on thread ids; modes are octal strings;
 *   IPC_INFO / MSG_INFO expect only their limits.
 */

import { formatData, isRecord } from '../conformance/values.js';
import { octal } from './generate.js';
import type { Divergence, StepRecord } from './lockstep.js';
import type { CallState } from './normalize.js';
import { actorSpecs, callName, isGet, isPair, kindOf, pairNames, queueName, type FuzzActor, type FuzzStep } from './trace.js';

export interface ScenarioMeta {
  title: string;
  refs: string[];
  actors: readonly FuzzActor[];
  /** Root actors lack CAP_SYS_RESOURCE where the kernel ran: said in `requires` when it holds. */
  capSysResource?: boolean;
  msgmnb: number;
}

/** A normalized value as a scenario writes it; undefined for what a scenario cannot pin (an id no symbol names). */
export function scenarioValue(v: unknown, field?: string): unknown {
  if (v instanceof Uint8Array) return formatData(v);
  if (typeof v === 'string') {
    if (v.startsWith('$tid:') || v.startsWith('$pid:?')) return { nonzero: true };
    if (v === '$?id') return undefined;
    return v;
  }
  if (typeof v === 'number' && field === 'mode') return octal(v);
  if (Array.isArray(v)) return v.map((x) => scenarioValue(x));
  if (isRecord(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const y = scenarioValue(x, k);
      if (y !== undefined) out[k] = y;
    }
    return out;
  }
  return v;
}

/** A call's answer as a step's `expect`. */
export function expectOf(s: Exclude<CallState, 'pending'>): unknown {
  if ('errno' in s) return { errno: s.errno };
  if ('fault' in s) throw new Error(`the reference faulted (${s.fault}): no answer to write`);
  return scenarioValue(s.value);
}

/** Arguments as a scenario writes them: bytes as data. */
function scenarioArgs(args: readonly unknown[]): unknown[] {
  return args.map((a) => (a instanceof Uint8Array ? formatData(a) : a));
}

function usesMsgCopy(steps: readonly FuzzStep[]): boolean {
  return steps.some((s) => s.kind === 'call' && s.op === 'msgrcv' && typeof s.args[3] === 'string' && s.args[3].includes('MSG_COPY'));
}

/** Whether a root actor's IPC_SET raises msg_qbytes over msgmnb: the answer depends on CAP_SYS_RESOURCE. */
function dependsOnCapSysResource(steps: readonly FuzzStep[], meta: ScenarioMeta): boolean {
  const roots = new Set(meta.actors.filter((a) => a.uid === 0).map((a) => a.name));
  return steps.some((s) => {
    if (s.kind !== 'call' || s.op !== 'msgctl' || s.args[1] !== 'IPC_SET' || !roots.has(s.by)) return false;
    const f = s.args[2];
    return isRecord(f) && typeof f.msg_qbytes === 'number' && f.msg_qbytes > meta.msgmnb;
  });
}

/** The scenario (a plain JSON-able object; bigints stay bigints) for a run that ends at `divergence`. */
export function scenarioOf(records: readonly StepRecord[], divergence: Divergence, meta: ScenarioMeta): Record<string, unknown> {
  const steps: unknown[] = [];
  const used = new Set<string>();
  for (const rec of records) {
    const s = rec.step;
    const divergent = s.n === divergence.at;
    if (s.kind === 'fork') {
      used.add(s.by);
      steps.push({ by: s.by, fork: s.child });
    } else if (s.kind === 'exit') {
      steps.push({ by: s.by, exit: true });
    } else if (s.kind === 'interrupt') {
      steps.push(s.restart === true ? { interrupt: callName(s.target), restart: true } : { interrupt: callName(s.target) });
    } else {
      used.add(s.by);
      const out: Record<string, unknown> = { by: s.by, call: [s.op, ...scenarioArgs(s.args)] };
      const [sub, ref] = rec.own!;
      if (ref === 'pending') {
        out.expect = 'blocks';
        out.as = callName(s.n);
      } else if (isPair(s.op) && 'value' in ref) {
        // a new pair of descriptors: any numbers will do
        out.as = pairNames(s.op, s.n);
      } else if (isGet(s.op) && 'value' in ref && ref.value === '$' + queueName(s.n)) {
        // a new queue: any id will do, unless the emulator named an old one instead
        if (divergent && sub !== 'pending' && 'value' in sub && typeof sub.value === 'string' && sub.value !== ref.value) out.expect = { not: sub.value };
        out.as = queueName(s.n);
      } else {
        out.expect = expectOf(ref);
      }
      steps.push(out);
    }
    for (const e of rec.ended) if (e.states[1] !== 'pending') steps.push({ wait: callName(e.n), expect: expectOf(e.states[1]) });
    if (divergent) for (const e of rec.ended) if (e.states[1] === 'pending') steps.push({ still: callName(e.n) });
  }
  for (const a of meta.actors) {
    // a pid expectation names an actor too
    if (JSON.stringify(steps, (_k, v: unknown) => (typeof v === 'bigint' ? 0 : v)).includes(`"$pid:${a.name}"`)) used.add(a.name);
  }
  const actors = actorSpecs(meta.actors.filter((a) => used.has(a.name)));
  const all = records.map((r) => r.step);
  const requires: string[] = [];
  if (Object.values(actors).some((a) => a.uid !== undefined)) requires.push('root');
  if (usesMsgCopy(all)) requires.push('msg_copy');
  if (meta.capSysResource === true && dependsOnCapSysResource(all, meta)) requires.push('cap_sys_resource');
  return {
    format: 1,
    title: meta.title,
    refs: meta.refs,
    tags: [...new Set(all.flatMap((st) => (st.kind === 'call' ? [kindOf(st.op)] : [])))],
    ...(requires.length > 0 && { requires }),
    actors,
    steps,
  };
}

/** Compact JSON for one value: bigints as exact digits, `{ "k": v }` spacing as the examples write it. */
export function jsonText(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return `[${v.map(jsonText).join(', ')}]`;
  if (isRecord(v)) {
    const entries = Object.entries(v);
    return entries.length === 0 ? '{}' : `{ ${entries.map(([k, x]) => `${JSON.stringify(k)}: ${jsonText(x)}`).join(', ')} }`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** The scenario as a file: top-level fields one per line, one step per line. */
export function scenarioText(scenario: Record<string, unknown>): string {
  const lines = Object.entries(scenario).map(([k, v]) => {
    if (k === 'steps' && Array.isArray(v)) return `  "steps": [\n${v.map((s) => `    ${jsonText(s)}`).join(',\n')}\n  ]`;
    return `  ${JSON.stringify(k)}: ${jsonText(v)}`;
  });
  return `{\n${lines.join(',\n')}\n}\n`;
}
