/**
 * The actor agent: one real process per scenario actor on the native
 * backend. The native driver starts it with child_process.fork (with the
 * actor's uid/gid) and sends it calls over the IPC channel; it makes each
 * one on the real kernel through the addon (`openNative().self()` +
 * `runOp`) and answers with the normalized result or Linux's errno.
 *
 * Calls run concurrently: a call that sleeps in the kernel (on one of the
 * addon's threads) does not hold up later calls of the same actor, which
 * behave as calls from other threads of the process (FORMAT.md). The agent
 * also reports which pending calls sleep in their system call (see
 * agent-threads.ts), interrupts a call through its AbortSignal, and exits
 * when told to.
 *
 * Environment (FORMAT.md "The actors' environment"): umask 022; SIGPIPE is
 * ignored (Node does so at start-up); the supplementary groups were emptied
 * by libuv when the driver set the uid/gid.
 */

import { readFileSync } from 'node:fs';
import { IpcError } from '../errors.js';
import { openNative } from '../native/index.js';
import type { CallState, FromAgent, ToAgent } from './agent-protocol.js';
import { callStates, signatureOf, type Signature } from './agent-threads.js';
import { newActorState, runOp } from './ops.js';

interface Pending {
  signature: Signature | undefined;
  controller: AbortController;
}

const channel = process.send?.bind(process);
if (channel === undefined) {
  process.stderr.write('agent: run only by the native conformance driver (it needs an IPC channel)\n');
  process.exit(2);
}

function send(message: FromAgent): void {
  // The driver may be gone (it killed us, or died): nothing is left to tell.
  if (process.connected) channel!(message);
}

process.umask(0o022);
// The driver is gone: an actor never outlives its runner.
process.on('disconnect', () => process.exit(1));

const self = openNative().self();
const state = newActorState();
const pending = new Map<number, Pending>();

function start(id: number, op: string, args: unknown[]): void {
  const controller = new AbortController();
  pending.set(id, { signature: signatureOf(op, args), controller });
  let result: Promise<unknown>;
  try {
    result = runOp(self, op, args, state, { signal: controller.signal });
  } catch (error) {
    result = Promise.reject(error);
  }
  result.then(
    (value) => answer(id, { t: 'done', id, ok: true, value }),
    (error: unknown) => {
      if (error instanceof IpcError) answer(id, { t: 'done', id, ok: false, errno: error.errno });
      else answer(id, fault(id, error));
    },
  );
}

/** The call's last word: it is no longer pending for probes that follow. */
function answer(id: number, message: FromAgent): void {
  pending.delete(id);
  try {
    send(message);
  } catch (error) {
    // A result the structured clone cannot carry (a bug in the op's normalization).
    send(fault(id, error));
  }
}

function fault(id: number, error: unknown): FromAgent {
  const e = error instanceof Error ? error : new Error(String(error));
  return { t: 'fault', id, name: e.name, message: e.message };
}

function states(ids: number[]): Record<number, CallState> {
  const asked = ids.flatMap((id) => {
    const p = pending.get(id);
    return p === undefined ? [] : [{ id, signature: p.signature }];
  });
  return callStates(asked);
}

process.on('message', (message: ToAgent) => {
  switch (message.t) {
    case 'call':
      start(message.id, message.op, message.args);
      break;
    case 'interrupt': {
      const p = pending.get(message.id);
      p?.controller.abort(new Error('interrupted by the conformance runner'));
      send({ t: 'interrupted', id: message.id, found: p !== undefined });
      break;
    }
    case 'probe':
      send({ t: 'sleeping', seq: message.seq, states: states(message.ids) });
      break;
    case 'exit':
      process.exit(0);
  }
});

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

send({ t: 'ready', pid: process.pid, ...credentials() });
