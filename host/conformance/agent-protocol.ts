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
 *
 * A forked actor's channel is a connection the parent agent opens to the
 * driver's listening socket (native-driver.ts: fork) and hands to the child
 * as its descriptor 3: its first frame, written by the parent, is `hello`
 * with the driver's token; every later frame is the child's.
 */

import { deserialize, serialize } from 'node:v8';

/** The agent's end of the driver's socket. */
export const CHANNEL_FD = 3;

/**
 * Environment variable of a forked agent: JSON of the descriptors it
 * inherited ({@link InheritedFd}[]), at the numbers they had in the parent.
 */
export const INHERITED_FDS_ENV = 'IPCEMU_AGENT_INHERITED_FDS';

/** A descriptor a fork passes on, and whether FD_CLOEXEC was set on it (a flag of the descriptor, not of the open file). */
export interface InheritedFd {
  fd: number;
  cloexec: boolean;
}

/** How to start an agent (agent-launch.ts: AgentCommand). */
export interface AgentStart {
  modulePath: string;
  execArgv: string[];
}

/** What the driver asks of an agent. */
export type ToAgent =
  /** Start `op`; the agent answers `done` with the same id, however long it takes. */
  | { t: 'call'; id: number; op: string; args: unknown[] }
  /**
   * Interrupt call `id`: a signal whose handler runs (installed with
   * SA_RESTART when `restart`), sent to its thread; answered by `interrupted`.
   */
  | { t: 'interrupt'; id: number; restart: boolean }
  /**
   * Fork: start a child agent that holds this agent's scenario descriptors at
   * the same numbers, its channel a connection to `address` introduced by
   * `hello` with `token`; answered by `forked`.
   */
  | { t: 'fork'; seq: number; address: string; token: string; command: AgentStart }
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
  /** `refused`: why the call could not be interrupted (again) at all. */
  | { t: 'interrupted'; id: number; found: boolean; refused?: string }
  /** The fork's child was started (its pid), or could not be. */
  | { t: 'forked'; seq: number; pid: number }
  | { t: 'forked'; seq: number; error: string }
  /** The first frame on a forked child's channel, written by its parent. */
  | { t: 'hello'; token: string }
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
