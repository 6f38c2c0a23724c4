/**
 * Which pending calls of this process sleep in the kernel, read from
 * /proc/self/task/TID/{stat,syscall}. FORMAT.md: a "blocks" call must be
 * seen asleep in its system call where the runner can, so that a slow
 * machine cannot pass a late answer off as a block; and before each step
 * every pending call is complete or asleep again.
 *
 * A call on the agent's main thread names that thread (`tid`), and only it
 * is looked at. The addon runs other blocking calls on pool threads of its
 * own and does not say which, so such a call is matched to a thread by what
 * the kernel shows: the syscall number and the first argument (the SysV id).
 * Two pending calls with the same signature are counted against the threads
 * with that signature (the named threads left out); which of the two is
 * which does not matter for "all asleep".
 *
 * Reading our own /proc/self/task needs no privilege (ptrace access to one's
 * own thread group always holds), whatever uid the agent runs as.
 */

import { readdirSync, readFileSync } from 'node:fs';
import type { CallState } from './agent-protocol.js';

/** x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl) of the ops that can sleep. */
const SYSCALLS: Readonly<Record<string, number>> = process.arch === 'x64' ? { msgsnd: 69, msgrcv: 70, semop: 220, semtimedop: 220 } : {};
// The addon makes every semop as semtimedop (native/sem.h), as glibc's semop does. Other kinds add
// theirs as they land (read 0, write 1, openat 257, ppoll 271, mq_timedsend 242, mq_timedreceive
// 243); until then their calls are 'unknown'.

/** What a pending call looks like from /proc, or undefined when the op has no known signature. */
export interface Signature {
  nr: number;
  /** The first syscall argument as the kernel prints it (unsigned 64-bit). */
  arg0: bigint;
}

export function signatureOf(op: string, args: readonly unknown[]): Signature | undefined {
  const nr = SYSCALLS[op];
  const id = args[0];
  if (nr === undefined || typeof id !== 'number' || !Number.isInteger(id)) return undefined;
  // The id is a C int, sign-extended into a 64-bit register.
  return { nr, arg0: BigInt.asUintN(64, BigInt(id)) };
}

/** Threads of this process asleep in a system call, as tid → "nr:arg0"; undefined without /proc. */
export function sleepingThreads(): Map<number, string> | undefined {
  const found = new Map<number, string>();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return undefined;
  }
  for (const tid of tids) {
    let stat: string;
    let syscall: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      syscall = readFileSync(`/proc/self/task/${tid}/syscall`, 'utf8');
    } catch {
      continue; // the thread ended between readdir and read
    }
    // comm may hold spaces and parentheses: the state is the field after the last ')'.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    // Asleep: 'S', an interruptible wait for a wake-up, as msgrcv/msgsnd sleep. A woken thread
    // is 'R' and its syscall file says "running" until it is back in user space.
    const fields = syscall.trim().split(' ');
    if (state !== 'S' || fields.length < 2 || fields[0] === 'running') continue;
    found.set(Number(tid), `${fields[0]}:${BigInt(fields[1]!)}`);
  }
  return found;
}

/** A pending call: its signature, and the thread it runs on where the agent knows it. */
export interface PendingCall {
  id: number;
  signature: Signature | undefined;
  tid?: number;
}

/** The state of each pending call: a named thread is looked at alone, the others are matched in id order. */
export function callStates(pending: readonly PendingCall[]): Record<number, CallState> {
  const threads = sleepingThreads();
  const states: Record<number, CallState> = {};
  // Threads that sleep in the right call, by signature, for the calls no thread is named for.
  const bySignature = new Map<string, number>();
  const named = new Set(pending.flatMap((p) => (p.tid === undefined ? [] : [p.tid])));
  for (const [tid, key] of threads ?? []) {
    if (!named.has(tid)) bySignature.set(key, (bySignature.get(key) ?? 0) + 1);
  }
  for (const { id, signature, tid } of pending) {
    if (signature === undefined || threads === undefined) {
      states[id] = 'unknown';
      continue;
    }
    const key = `${signature.nr}:${signature.arg0}`;
    if (tid !== undefined) {
      states[id] = threads.get(tid) === key ? 'asleep' : 'awake';
      continue;
    }
    const left = bySignature.get(key) ?? 0;
    if (left > 0) bySignature.set(key, left - 1);
    states[id] = left > 0 ? 'asleep' : 'awake';
  }
  return states;
}
