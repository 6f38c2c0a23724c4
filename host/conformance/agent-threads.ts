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
 * the kernel shows: the syscall number and the first argument (the SysV id
 * or the descriptor). Each such call claims one thread (the named threads
 * left out), so two pending calls with the same signature need two sleeping
 * threads; which of the two is which does not matter for "all asleep".
 *
 * Reading our own /proc/self/task needs no privilege (ptrace access to one's
 * own thread group always holds), whatever uid the agent runs as.
 */

import { readdirSync, readFileSync } from 'node:fs';
import type { CallState } from './agent-protocol.js';

/**
 * The system calls each op that can sleep is seen asleep in (x86_64 numbers,
 * arch/x86/entry/syscalls/syscall_64.tbl), and what the first argument then
 * is: the op's first argument (the SysV id, the descriptor), AT_FDCWD for
 * openat, or anything (`any`: a pointer the runner does not know). These are
 * what the addon's blocking forms make (native/pipe.cc, sock.cc, msg.cc,
 * sem.cc, through glibc): read, write, open (glibc: openat), poll, send
 * (sendto), recv (recvfrom); its sync forms never sleep. Where glibc may use
 * either of two calls, both are listed.
 */
type Arg0 = 'first' | 'at_fdcwd' | 'any';
const X86_64: Readonly<Record<string, readonly (readonly [nr: number, arg0: Arg0])[]>> = {
  msgsnd: [[69, 'first']],
  msgrcv: [[70, 'first']],
  // the addon makes every semop as semtimedop (native/sem.h), as glibc's semop does
  semop: [[220, 'first']],
  semtimedop: [[220, 'first']],
  read: [[0, 'first']],
  write: [[1, 'first']],
  recv: [[45, 'first']],
  send: [[44, 'first']],
  // a FIFO open sleeps in fifo_open() (fs/pipe.c: wait_for_partner)
  open: [[257, 'at_fdcwd'], [2, 'any']],
  // poll's first argument is the pollfd array
  poll: [[7, 'any'], [271, 'any']],
};
const SYSCALLS = process.arch === 'x64' ? X86_64 : {};
/**
 * Every first argument above is a C int. Its register's upper half is not
 * part of it (a 32-bit move zeroes it: /proc shows AT_FDCWD as 0xffffff9c),
 * so only the low 32 bits are compared.
 */
const INT_MASK = 0xffffffffn;
const AT_FDCWD = BigInt.asUintN(32, -100n);

/** What a pending call looks like from /proc: any of these syscalls, each with its first argument (32 bits) or any. */
export interface Signature {
  alternatives: readonly { nr: number; arg0?: bigint }[];
}

export function signatureOf(op: string, args: readonly unknown[]): Signature | undefined {
  const forms = SYSCALLS[op];
  if (forms === undefined) return undefined;
  const first = args[0];
  const alternatives: { nr: number; arg0?: bigint }[] = [];
  for (const [nr, arg0] of forms) {
    if (arg0 === 'any') alternatives.push({ nr });
    else if (arg0 === 'at_fdcwd') alternatives.push({ nr, arg0: AT_FDCWD });
    else if (typeof first === 'number' && Number.isInteger(first)) alternatives.push({ nr, arg0: BigInt.asUintN(32, BigInt(first)) });
  }
  return alternatives.length === 0 ? undefined : { alternatives };
}

/** Whether a thread asleep in `nr` with first argument `arg0` is in a call of this signature. */
function matches(signature: Signature, { nr, arg0 }: SleepingThread): boolean {
  return signature.alternatives.some((a) => a.nr === nr && (a.arg0 === undefined || a.arg0 === (arg0 & INT_MASK)));
}

/** A thread asleep in a system call, as /proc/self/task/TID/syscall shows it. */
export interface SleepingThread {
  nr: number;
  /** The first argument, unsigned 64-bit. */
  arg0: bigint;
}

/** Threads of this process asleep in a system call, by tid; undefined without /proc. */
export function sleepingThreads(): Map<number, SleepingThread> | undefined {
  const found = new Map<number, SleepingThread>();
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
    // Asleep: 'S', an interruptible wait for a wake-up, as msgrcv/msgsnd, pipe and socket
    // reads and writes (fs/pipe.c: wait_event_interruptible_exclusive), FIFO opens
    // (wait_for_partner) and poll sleep. A woken thread is 'R' and its syscall file says
    // "running" until it is back in user space.
    const fields = syscall.trim().split(' ');
    if (state !== 'S' || fields.length < 2 || fields[0] === 'running') continue;
    found.set(Number(tid), { nr: Number(fields[0]), arg0: BigInt(fields[1]!) });
  }
  return found;
}

/** A pending call: its signature, and the thread it runs on where the agent knows it. */
export interface PendingCall {
  id: number;
  signature: Signature | undefined;
  tid?: number;
}

/**
 * The state of each pending call: a named thread is looked at alone; each of
 * the others, in id order, claims the first unclaimed unnamed thread that
 * sleeps in a matching call.
 */
export function callStates(pending: readonly PendingCall[]): Record<number, CallState> {
  const threads = sleepingThreads();
  const states: Record<number, CallState> = {};
  const named = new Set(pending.flatMap((p) => (p.tid === undefined ? [] : [p.tid])));
  const unclaimed = [...(threads ?? [])].filter(([tid]) => !named.has(tid));
  for (const { id, signature, tid } of pending) {
    if (signature === undefined || threads === undefined) {
      states[id] = 'unknown';
      continue;
    }
    if (tid !== undefined) {
      const thread = threads.get(tid);
      states[id] = thread !== undefined && matches(signature, thread) ? 'asleep' : 'awake';
      continue;
    }
    const i = unclaimed.findIndex(([, thread]) => matches(signature, thread));
    if (i >= 0) unclaimed.splice(i, 1);
    states[id] = i >= 0 ? 'asleep' : 'awake';
  }
  return states;
}
