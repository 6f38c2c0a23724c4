/**
 * The actor agent: one real process per scenario actor on the native
 * backend. The native driver starts it (with the actor's uid/gid) and talks
 * to it over a socket on descriptor 3 (agent-protocol.ts); it makes each
 * call on the real kernel through the addon and answers with the normalized
 * result or Linux's errno.
 *
 * Threads, as kref has them: a call runs on the agent's main thread when
 * that thread is free, and otherwise on another thread of the process. The
 * main thread matters because Linux records the receiving THREAD's id in
 * msg_lrpid after a pipelined receive (ipc/msg.c: pipelined_send(),
 * task_pid): a single-threaded C program leaves its pid there, and so must
 * an actor's first call (FORMAT.md). So this file, the main thread, only
 * runs calls, through threadSelf() (native/here.ts): a blocking call sleeps
 * right here and this thread's event loop stops meanwhile. The channel
 * thread (agent-channel.ts, a worker_thread) keeps reading the driver's
 * frames: it hands a call to this thread when it is free, runs it on the
 * addon's pool threads when it is not (calls of other threads of the same
 * process, FORMAT.md), reports which calls sleep, interrupts them, and ends
 * the process.
 *
 * Per-actor tables (ops.ts ActorState) are per thread and empty: the
 * actor's descriptors are this process's own, which both threads share. The
 * list of those a fork passes on is kept by the channel thread, which sees
 * every outcome (agent-fork.ts).
 *
 * Environment (FORMAT.md "The actors' environment"): umask 022; SIGPIPE is
 * ignored (Node does so at start-up); the supplementary groups were emptied
 * by libuv when the driver set the uid/gid.
 */

import { writeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { IpcError } from '../errors.js';
import { threadId, threadSelf } from '../native/here.js';
import type { FromMain, ToMain } from './agent-protocol.js';
import { newActorState, runOp } from './ops.js';

process.umask(0o022);

const self = threadSelf();
const state = newActorState();
const channelModule = import.meta.url.endsWith('.ts') ? './agent-channel.ts' : './agent-channel.js';
const channel = new Worker(new URL(channelModule, import.meta.url));

function tell(message: FromMain): void {
  try {
    channel.postMessage(message);
  } catch (error) {
    // A result structured clone cannot carry (a bug in the op's normalization).
    if (message.t !== 'done') throw error;
    const e = error instanceof Error ? error : new Error(String(error));
    channel.postMessage({ t: 'fault', id: message.id, name: e.name, message: e.message } satisfies FromMain);
  }
}

/** Runs one call on this thread: a blocking one sleeps here until it ends or the channel thread interrupts it. */
function run(id: number, op: string, args: unknown[]): void {
  let result: Promise<unknown>;
  try {
    result = runOp(self, op, args, state);
  } catch (error) {
    result = Promise.reject(error);
  }
  result.then(
    (value) => tell({ t: 'done', id, ok: true, value }),
    (error: unknown) => {
      if (error instanceof IpcError) {
        tell({ t: 'done', id, ok: false, errno: error.errno });
      } else {
        const e = error instanceof Error ? error : new Error(String(error));
        tell({ t: 'fault', id, name: e.name, message: e.message });
      }
    },
  );
}

channel.on('message', (message: ToMain) => {
  if (message.t === 'call') run(message.id, message.op, message.args);
  else process.exit(message.code);
});

// The channel thread is how the driver reaches us: without it the actor is lost.
channel.on('error', (error) => {
  writeSync(2, `agent: channel thread failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
channel.on('exit', (code) => process.exit(code === 0 ? 1 : code));

tell({ t: 'main', tid: threadId() });
