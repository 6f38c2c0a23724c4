/**
 * What the native tests share: the backend (or why it is unavailable: the
 * suites then show as skipped with that reason), queues that remove
 * themselves, the ipcs -q ledger, and a look at which of our threads sleep
 * in which system call.
 */

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { Process } from '../../host/api.js';
import { IPC_CREAT, IPC_PRIVATE, IPC_RMID } from '../../host/constants.js';
import { IpcError } from '../../host/errors.js';

export interface NativeHere {
  self: Process | undefined;
  /** Why the native backend cannot run here. */
  unavailable: string | undefined;
}

async function probe(): Promise<NativeHere> {
  try {
    const { openNative } = await import('../../host/native/index.js');
    return { self: openNative().self(), unavailable: undefined };
  } catch (error) {
    return { self: undefined, unavailable: error instanceof Error ? error.message.split('\n')[0] : String(error) };
  }
}

export const native = await probe();

/** A suite title that carries the reason it is skipped. */
export function titled(name: string): string {
  return native.unavailable === undefined ? name : `${name} (native unavailable: ${native.unavailable})`;
}

export function self(): Process {
  if (native.self === undefined) throw new Error(`native backend unavailable: ${native.unavailable}`);
  return native.self;
}

/** Every msqid the tests of this process made, removed or not. */
export const made = new Set<number>();

/** Records an id a test created (by key, say), so the ledger can tell if it leaked. */
export function track(id: number): number {
  made.add(id);
  return id;
}

/** A fresh private queue that removes itself at the end of its `using` block. */
export function queue(p: Process = self(), mode = 0o600): { id: number } & Disposable {
  const id = track(p.msgget(IPC_PRIVATE, IPC_CREAT | mode));
  return {
    id,
    [Symbol.dispose]() {
      try {
        p.msgctl(id, IPC_RMID);
      } catch (error) {
        if (!(error instanceof IpcError && error.code === 'EINVAL')) throw error;
      }
    },
  };
}

/** A key unlikely to collide with anything else on the machine. */
export function randomKey(): number {
  return 0x1e100000 + Math.floor(Math.random() * 0xfffff);
}

export const bytes = (s: string) => new TextEncoder().encode(s);

export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<IpcError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(IpcError);
  expect((error as IpcError).code).toBe(code);
  return error as IpcError;
}

export function throwsWith(fn: () => unknown, code: string): IpcError {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(IpcError);
  expect((error as IpcError).code).toBe(code);
  return error as IpcError;
}

/** msqids in `ipcs -q`, each with its last sender's and receiver's pids (ipcs -q -p). */
export function ipcsQueues(): Map<number, { lspid: number; lrpid: number }> {
  const out = new Map<number, { lspid: number; lrpid: number }>();
  for (const line of execFileSync('ipcs', ['-q'], { encoding: 'utf8' }).split('\n')) {
    const m = /^0x[0-9a-f]+\s+(\d+)\s/i.exec(line);
    if (m) out.set(Number(m[1]), { lspid: 0, lrpid: 0 });
  }
  for (const line of execFileSync('ipcs', ['-q', '-p'], { encoding: 'utf8' }).split('\n')) {
    const m = /^(\d+)\s+\S+\s+(\d+)\s+(\d+)\s*$/.exec(line.trim());
    const entry = m ? out.get(Number(m[1])) : undefined;
    if (m && entry) {
      entry.lspid = Number(m[2]);
      entry.lrpid = Number(m[3]);
    }
  }
  return out;
}

/** Our threads (and the children's pids given) : a queue touched by one of them is ours. */
function ourTasks(children: Iterable<number>): Set<number> {
  const tasks = new Set<number>([process.pid, ...children]);
  for (const tid of readdirSync('/proc/self/task')) tasks.add(Number(tid));
  return tasks;
}

/**
 * The msqids that appeared in ipcs -q since `before` and are ours: made by
 * a test here, or last used by this process, one of its threads, or one of
 * the children given. Other test files run at the same time and make queues
 * of their own, so only ours can be held against us.
 */
export function leakedSince(before: ReadonlyMap<number, unknown>, children: Iterable<number> = []): number[] {
  const tasks = ourTasks(children);
  const leaked: number[] = [];
  for (const [id, { lspid, lrpid }] of ipcsQueues()) {
    if (before.has(id)) continue;
    if (made.has(id) || tasks.has(lspid) || tasks.has(lrpid)) leaked.push(id);
  }
  return leaked;
}

/** x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
export const SYS = { msgsnd: 69, msgrcv: 70 } as const;

/** How many of our threads sleep in system call `nr` with `arg0` as first argument. */
export function sleepingIn(nr: number, arg0: number): number {
  let n = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      const fields = readFileSync(`/proc/self/task/${tid}/syscall`, 'utf8').trim().split(' ');
      if (state === 'S' && Number(fields[0]) === nr && BigInt(fields[1]!) === BigInt.asUintN(64, BigInt(arg0))) n++;
    } catch {
      // the thread ended between readdir and read
    }
  }
  return n;
}

/** Resolves once `count` of our threads sleep in `nr` on `arg0`; rejects after `ms`. */
export async function untilSleeping(nr: number, arg0: number, count: number, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const n = sleepingIn(nr, arg0);
    if (n >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${n} of ${count} threads asleep in syscall ${nr} on ${arg0}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
