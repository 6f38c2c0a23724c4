/**
 * The messages between the native driver and an actor agent, and between the
 * agent's two threads.
 *
 * Driver ↔ agent: frames on a Unix socket that the driver passes as the
 * agent's descriptor 3 (not child_process's IPC channel: that one belongs to
 * the main thread, which sleeps in an actor's calls, while the agent's
 * channel thread must go on reading). A frame is a 32-bit little-endian
 * length and V8's serialization of the message (structured clone), so
 * Uint8Array data and bigint mtypes cross as they are; errors cross as plain
 * fields because Error objects do not clone faithfully.
 */

import { deserialize, serialize } from 'node:v8';

/** The agent's end of the driver's socket. */
export const CHANNEL_FD = 3;

/** What the driver asks of an agent. */
export type ToAgent =
  /** Start `op`; the agent answers `done` with the same id, however long it takes. */
  | { t: 'call'; id: number; op: string; args: unknown[] }
  /** Interrupt call `id` (a signal whose handler runs, sent to its thread); answered by `interrupted`. */
  | { t: 'interrupt'; id: number }
  /** Which of these pending calls sleep in their system call; answered by `sleeping`. */
  | { t: 'probe'; seq: number; ids: number[] }
  /** End the process (exit_group). No answer: the driver waits for the exit. */
  | { t: 'exit' };

/** Where a pending call is, as /proc/self/task shows its thread. */
export type CallState =
  /** A thread of the agent sleeps in the call's system call, with its id as first argument. */
  | 'asleep'
  /** No such thread: the call has not entered the kernel yet, or is on its way back. */
  | 'awake'
  /** The agent cannot tell for this op (no syscall signature known): the settle window decides. */
  | 'unknown';

/** What an agent tells the driver. */
export type FromAgent =
  /** Sent once at start-up, with the credentials the kernel gave the process. */
  | { t: 'ready'; pid: number; uid: number; gid: number; groups: number[] }
  /** Call `id` ended with a result or Linux's errno. */
  | { t: 'done'; id: number; ok: true; value: unknown }
  | { t: 'done'; id: number; ok: false; errno: number }
  /** Call `id` threw something that is not an IpcError (a bug or a bad argument type): fails the scenario. */
  | { t: 'fault'; id: number; name: string; message: string }
  | { t: 'interrupted'; id: number; found: boolean }
  | { t: 'sleeping'; seq: number; states: Record<number, CallState> };

/** The channel thread asks the main thread (a worker_threads message). */
export type ToMain =
  /** Run `op` on the main thread; answered by a `done` or `fault` FromAgent message. */
  | { t: 'call'; id: number; op: string; args: unknown[] }
  /** End the process with this code. */
  | { t: 'exit'; code: number };

/** The main thread tells the channel thread: its thread id first, then each call's outcome. */
export type FromMain =
  | { t: 'main'; tid: number }
  | Extract<FromAgent, { t: 'done' | 'fault' }>;

/** Largest frame accepted: far above any message (a msgrcv answer carries at most msgmax bytes). */
const MAX_FRAME = 64 << 20;

/** One message as a frame. */
export function frame(message: ToAgent | FromAgent): Buffer {
  const body = serialize(message);
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32LE(body.length, 0);
  return Buffer.concat([head, body]);
}

/** Cuts a byte stream into messages. */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  /** The whole messages `chunk` completes, in order; throws on a frame no peer of ours sends. */
  push(chunk: Buffer): unknown[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: unknown[] = [];
    while (this.pending.length >= 4) {
      const length = this.pending.readUInt32LE(0);
      if (length > MAX_FRAME) throw new Error(`agent channel: a frame of ${length} bytes`);
      if (this.pending.length < 4 + length) break;
      out.push(deserialize(this.pending.subarray(4, 4 + length)));
      this.pending = this.pending.subarray(4 + length);
    }
    return out;
  }
}
