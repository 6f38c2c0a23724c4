/**
 * The agent's channel thread (a worker_thread of agent.ts): reads the
 * driver's frames from descriptor 3 and answers them, while the main thread
 * may sleep in an actor's call.
 *
 * - call: to the main thread when it is free (it is busy from the hand-over
 *   until its outcome arrives here, which is also when the call stops being
 *   pending); otherwise on this thread's addon instance, whose pool threads
 *   are further threads of the process.
 * - interrupt: a call on the main thread gets interruptThread(main tid,
 *   restart), tried again until the call is seen in the kernel or has
 *   answered (its hand-over may still be under way); one on the pool is
 *   aborted through its AbortSignal (ops.ts: CallSignal), with reason
 *   `{ restart: true, signal }` for a handler installed with SA_RESTART.
 *   Both are the addon's thread-directed signal; the kernel decides what it
 *   does to the call.
 * - probe: /proc/self/task, the main thread included (agent-threads.ts).
 * - fork: a child agent holding this actor's scenario descriptors
 *   (agent-fork.ts). Every outcome passes through here, so this thread keeps
 *   the list of those descriptors; a forked agent starts with its parent's,
 *   and sets FD_CLOEXEC again where the parent had it before it is ready.
 * - exit, or the driver gone (end of the socket): the main thread is told
 *   to exit and, should it sleep in a call, interrupted until the process
 *   has ended.
 */

import { readFileSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { parentPort } from 'node:worker_threads';
import type { Process } from '../api.js';
import { IpcError } from '../errors.js';
import { interruptThread } from '../native/here.js';
import { openNative } from '../native/index.js';
import {
  CHANNEL_FD, frame, FrameReader, type CallState, type FromAgent, type FromMain, type ToAgent, type ToMain,
} from './agent-protocol.js';
import { inheritedDescriptors, restoreCloexec, ScenarioDescriptors, spawnFork } from './agent-fork.js';
import { callStates, signatureOf, type PendingCall } from './agent-threads.js';
import { CallSignal, newActorState, runOp } from './ops.js';

/** How often a call on the main thread is looked for again when an interrupt or exit finds it not yet in the kernel. */
const RETRY_MS = 1;

interface Pending extends PendingCall {
  op: string;
  args: unknown[];
  /** For a call on the pool: how to interrupt it. */
  signal?: CallSignal;
}

const main = parentPort!;
const socket = new Socket({ fd: CHANNEL_FD, readable: true, writable: true });
const reader = new FrameReader();
const pending = new Map<number, Pending>();
const state = newActorState();
const inherited = inheritedDescriptors();
const descriptors = new ScenarioDescriptors(inherited);
let pool: Process | undefined;
let mainTid = 0;
/** The call the main thread runs, if any. */
let onMain: number | undefined;
let exiting = false;

function send(message: FromAgent): void {
  if (!socket.destroyed) socket.write(frame(message));
}

function tellMain(message: ToMain): void {
  main.postMessage(message);
}

/** The call's last word: it is no longer pending for probes that follow. */
function answer(id: number, message: FromAgent): void {
  const p = pending.get(id);
  pending.delete(id);
  if (p !== undefined && message.t === 'done' && message.ok) descriptors.note(p.op, p.args, message.value);
  if (exiting) return;
  try {
    send(message);
  } catch (error) {
    send(fault(id, error));
  }
}

function fault(id: number, error: unknown): FromAgent {
  const e = error instanceof Error ? error : new Error(String(error));
  return { t: 'fault', id, name: e.name, message: e.message };
}

function start(id: number, op: string, args: unknown[]): void {
  const signature = signatureOf(op, args);
  if (onMain === undefined) {
    onMain = id;
    pending.set(id, { id, op, args, signature, tid: mainTid });
    tellMain({ t: 'call', id, op, args });
    return;
  }
  const signal = new CallSignal();
  pending.set(id, { id, op, args, signature, signal });
  pool ??= openNative().self();
  let result: Promise<unknown>;
  try {
    result = runOp(pool, op, args, state, { signal: signal.signal });
  } catch (error) {
    result = Promise.reject(error);
  }
  result.then(
    (value) => answer(id, { t: 'done', id, ok: true, value }),
    (error: unknown) => answer(id, error instanceof IpcError ? { t: 'done', id, ok: false, errno: error.errno } : fault(id, error)),
  );
}

function interrupt(id: number, restart: boolean): void {
  const p = pending.get(id);
  if (p?.signal !== undefined) {
    try {
      p.signal.interrupt(restart);
    } catch (error) {
      send({ t: 'interrupted', id, found: true, refused: error instanceof Error ? error.message : String(error) });
      return;
    }
    send({ t: 'interrupted', id, found: true });
    return;
  }
  send({ t: 'interrupted', id, found: p !== undefined });
  if (p !== undefined) {
    // Until the main thread is seen in the call, or the call has answered (then onMain moved on).
    // One success only: with SA_RESTART the call goes on sleeping, and a second signal would be a second handler run.
    const attempt = () => {
      if (onMain === id && !interruptThread(mainTid, restart)) setTimeout(attempt, RETRY_MS);
    };
    attempt();
  }
}

function fork(message: Extract<ToAgent, { t: 'fork' }>): void {
  spawnFork(message, descriptors.open()).then(
    (pid) => send({ t: 'forked', seq: message.seq, pid }),
    (error: unknown) => send({ t: 'forked', seq: message.seq, error: error instanceof Error ? error.message : String(error) }),
  );
}

function states(ids: number[]): Record<number, CallState> {
  return callStates(ids.flatMap((id) => {
    const p = pending.get(id);
    return p === undefined ? [] : [p];
  }));
}

/** Ends the process from the main thread, which may first have to be woken from a call. */
function exit(code: number): void {
  if (exiting) return;
  exiting = true;
  tellMain({ t: 'exit', code });
  interruptThread(mainTid);
  setInterval(() => interruptThread(mainTid), RETRY_MS);
}

/** Something here failed that never should: the actor cannot go on. */
function fatal(error: unknown): void {
  writeSync(2, `agent: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  exit(1);
}

function handle(message: ToAgent): void {
  if (exiting) return;
  switch (message.t) {
    case 'call':
      start(message.id, message.op, message.args);
      break;
    case 'interrupt':
      interrupt(message.id, message.restart);
      break;
    case 'fork':
      fork(message);
      break;
    case 'probe':
      send({ t: 'sleeping', seq: message.seq, states: states(message.ids) });
      break;
    case 'exit':
      exit(0);
  }
}

/** Uid, gid and groups as the kernel sees them, so the driver can check the spawn options took. */
function credentials(): { uid: number; gid: number; groups: number[] } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const field = (name: string) => (status.match(new RegExp(`^${name}:[ \\t]*(.*)$`, 'm'))?.[1] ?? '').trim();
  const groups = field('Groups');
  return {
    uid: Number(field('Uid').split(/\s+/)[1]),
    gid: Number(field('Gid').split(/\s+/)[1]),
    groups: groups === '' ? [] : groups.split(/\s+/).map(Number),
  };
}

main.on('message', (message: FromMain) => {
  try {
    if (message.t === 'main') {
      mainTid = message.tid;
      if (inherited.length > 0) {
        pool ??= openNative().self();
        restoreCloexec(pool, inherited);
      }
      send({ t: 'ready', pid: process.pid, ...credentials() });
      return;
    }
    // Free before the answer goes out: the driver's next call may follow it at once.
    if (onMain === message.id) onMain = undefined;
    answer(message.id, message);
  } catch (error) {
    fatal(error);
  }
});

socket.on('data', (chunk: Buffer) => {
  try {
    for (const message of reader.push(chunk)) handle(message as ToAgent);
  } catch (error) {
    fatal(error);
  }
});
// The driver is gone: an actor never outlives its runner.
socket.on('end', () => exit(1));
socket.on('error', () => exit(1));
