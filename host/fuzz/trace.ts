/**
 * A fuzz trace: the operations of one episode, in FORMAT.md's own value
 * syntax, so that a trace runs through the conformance runner's decoding
 * (decode.ts) and drivers unchanged and a minimized one is written out as a
 * scenario with nothing to translate.
 *
 * Queues are named symbolically: the queue a msgget at step n created is
 * "q<n>", used as "$q<n>" by later steps; each backend maps the name to the
 * id it gave (ids differ between backends, and between runs of the kernel).
 * Step numbers `n` are fixed when the step is generated and never change, so
 * a subsequence kept by minimization still names the same queues and calls.
 */

import type { ActorSpec } from '../conformance/driver.js';

/** The operations the fuzzer generates: message queues, semaphore sets, pipes and socketpairs. */
export type FuzzOp =
  | 'msgget' | 'msgsnd' | 'msgrcv' | 'msgctl' | 'semget' | 'semop' | 'semctl'
  | 'pipe' | 'socketpair' | 'read' | 'write' | 'close' | 'fcntl' | 'ioctl' | 'poll'
  | 'send' | 'recv' | 'shutdown' | 'getsockopt';

/** The object kinds a run may mix (also the scenario tags of their steps). */
export type FuzzKind = 'msg' | 'sem' | 'pipe' | 'socket';

export const FUZZ_KINDS: readonly FuzzKind[] = ['msg', 'sem', 'pipe', 'socket'];

const SOCKET_OPS = new Set(['socketpair', 'send', 'recv', 'shutdown', 'getsockopt']);
const PIPE_OPS = new Set(['pipe', 'read', 'write', 'close', 'fcntl', 'ioctl', 'poll']);

/** Whether an op creates or finds an object (its answer is an id bound to "q<n>"). */
export function isGet(op: string): op is 'msgget' | 'semget' {
  return op === 'msgget' || op === 'semget';
}

/** The kind of an op's object. */
export function kindOf(op: string): FuzzKind {
  if (SOCKET_OPS.has(op)) return 'socket';
  if (PIPE_OPS.has(op)) return 'pipe';
  return op.startsWith('sem') ? 'sem' : 'msg';
}

/** Whether an op makes a pair of descriptors (its answer is bound to two names). */
export function isPair(op: string): op is 'pipe' | 'socketpair' {
  return op === 'pipe' || op === 'socketpair';
}

/**
 * The names the descriptors of a pipe (read end "r<n>", write end "w<n>")
 * or socketpair ("x<n>", "y<n>") made at step n are bound to.
 */
export function pairNames(op: 'pipe' | 'socketpair', n: number): [string, string] {
  return op === 'pipe' ? [`r${n}`, `w${n}`] : [`x${n}`, `y${n}`];
}

/** The step number of a "$r<n>" / "$w<n>" / "$x<n>" / "$y<n>" reference, or undefined. */
export function fdRef(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^\$[rwxy](\d+)$/.exec(v);
  return m ? Number(m[1]) : undefined;
}

export interface CallFuzzStep {
  kind: 'call';
  /** Fixed number of the step in its episode (1-based). */
  n: number;
  by: string;
  op: FuzzOp;
  /** FORMAT.md values: small keys, flags strings, "$q<n>" names, bytes, numbers and bigints. */
  args: unknown[];
}

/** A signal whose handler runs, delivered to the call of step `target` while it sleeps. */
export interface InterruptFuzzStep {
  kind: 'interrupt';
  n: number;
  target: number;
  /** The handler was installed with SA_RESTART (pipe and socket calls that moved nothing then go on sleeping). */
  restart?: boolean;
}

/** Actor `by` forks: `child` starts with a copy of its descriptor table (pipe and socket ends). */
export interface ForkFuzzStep {
  kind: 'fork';
  n: number;
  by: string;
  child: string;
}

/** Actor `by` (a forked one: the cast stays) exits: its descriptors close, with the wake-ups that follow. */
export interface ExitFuzzStep {
  kind: 'exit';
  n: number;
  by: string;
}

export type FuzzStep = CallFuzzStep | InterruptFuzzStep | ForkFuzzStep | ExitFuzzStep;

/** The name of the actor a fork at step n makes: lower case, so it never meets the cast's names. */
export function forkName(n: number): string {
  return `f${n}`;
}

/** Whether an actor was made by a fork step. */
export function isForked(actor: string): boolean {
  return /^f\d+$/.test(actor);
}

/** An actor of a fuzz run: its scenario spec (no uid: root) and the credentials the generator reasons with. */
export interface FuzzActor {
  name: string;
  uid: number;
  gid: number;
}

/** The symbol a msgget or semget at step n binds (one name space: step numbers are unique). */
export function queueName(n: number): string {
  return `q${n}`;
}

/** The name a pending call of step n is given in a scenario. */
export function callName(n: number): string {
  return `c${n}`;
}

/** The step number of a "$q<n>" reference, or undefined for any other value. */
export function queueRef(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^\$q(\d+)$/.exec(v);
  return m ? Number(m[1]) : undefined;
}

/** The scenario actors: root ones without credentials (they run as the runner), others with uid and gid. */
export function actorSpecs(actors: readonly FuzzActor[]): Record<string, ActorSpec> {
  const out: Record<string, ActorSpec> = {};
  for (const a of actors) out[a.name] = a.uid === 0 && a.gid === 0 ? {} : { uid: a.uid, gid: a.gid };
  return out;
}

/**
 * The default cast of `count` actors: A root, B uid/gid 1000, C uid/gid 1001,
 * D root, E uid 1000 in group 1001, F uid 1002 in group 1000, then more of
 * the same pattern. Two roots let root-only answers be checked between
 * processes; the mixed uid/gid pairs reach the group class of the mode.
 */
export function defaultActors(count: number): FuzzActor[] {
  const creds: Array<[number, number]> = [[0, 0], [1000, 1000], [1001, 1001], [0, 0], [1000, 1001], [1002, 1000]];
  const out: FuzzActor[] = [];
  for (let i = 0; i < count; i++) {
    const [uid, gid] = creds[i % creds.length]!;
    const name = i < 26 ? String.fromCharCode(65 + i) : `A${i}`;
    out.push({ name, uid, gid });
  }
  return out;
}
