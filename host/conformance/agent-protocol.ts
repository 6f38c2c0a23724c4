/**
 * The messages between the native driver and an actor agent. They travel
 * over child_process's IPC channel with `serialization: 'advanced'` (V8's
 * structured clone), so Uint8Array data and bigint mtypes cross as they are;
 * errors cross as plain fields because Error objects do not clone faithfully.
 */

/** What the driver asks of an agent. */
export type ToAgent =
  /** Start `op`; the agent answers `done` with the same id, however long it takes. */
  | { t: 'call'; id: number; op: string; args: unknown[] }
  /** Abort call `id` (the addon's cancellation); answered by `interrupted`. */
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
