/**
 * Simulated processes: pid, credentials, the calls each has asleep in the
 * kernel (several at once: each stands for a thread), and exit clean-up.
 *
 * Credentials are fixed for a process's life (the model has no setuid): the
 * uid is both the real and the effective one, the gid the effective (and fs)
 * one, `groups` the supplementary groups, `caps` the effective capability
 * set (bit n = capability n, as CapEff).
 *
 * Pids are small integers handed out in order from 1 and never reused within
 * a kernel, so a run is deterministic.
 */

import { alloc, free, realloc } from '../mem/alloc';

export const CAP_DAC_OVERRIDE: i32 = 1;
export const CAP_DAC_READ_SEARCH: i32 = 2;
export const CAP_FOWNER: i32 = 3;
export const CAP_IPC_OWNER: i32 = 15;
export const CAP_SYS_ADMIN: i32 = 21;
export const CAP_SYS_RESOURCE: i32 = 24;

@unmanaged
export class Process {
  pid: i32;
  uid: u32;
  gid: u32;
  ngroups: i32;
  /** u32[ngroups], or 0. */
  groups: usize;
  caps: u64;
  /** The calls asleep in the kernel, oldest first (Waiter.procPrev/procNext links). */
  waitHead: usize;
  waitTail: usize;
  /** The SEM_UNDO adjustments, newest set first (sem/undo.ts); 0 for none. Threads share it; a forked child starts without. */
  semUndo: usize;
  /** The descriptor table (fd/table.ts); 0 until the first descriptor. A forked child gets a copy. */
  fds: usize;
  /**
   * The SIGPIPEs Linux would have sent it (a write to a pipe with no reader,
   * fs/pipe.c; write(2) on a stream socket whose peer is gone, af_unix.c):
   * counted, never delivered, as the actors ignore SIGPIPE. A child starts at 0.
   */
  sigpipes: u32;
}

/** pid → Process (0 for none): a table indexed by pid, grown by doubling. */
let table: usize = 0;
let tableCap: i32 = 0;
let nextPid: i32 = 1;

/** Exit clean-up, in registration order: every object kind registers its own at init. */
const MAX_EXIT_HOOKS: i32 = 8;
const exitHooks = memory.data(MAX_EXIT_HOOKS * sizeof<usize>(), sizeof<usize>());
let exitHookCount: i32 = 0;

export type ExitHook = (p: Process) => void;

/** What fork copies beyond credentials (the descriptor table), in registration order. */
const MAX_FORK_HOOKS: i32 = 4;
const forkHooks = memory.data(MAX_FORK_HOOKS * sizeof<usize>(), sizeof<usize>());
let forkHookCount: i32 = 0;

/** Copies a parent's state into its new child; false when memory is exhausted. */
export type ForkHook = (parent: Process, child: Process) => bool;

export function registerForkHook(hook: ForkHook): void {
  if (!ASC_NO_ASSERT) assert(forkHookCount < MAX_FORK_HOOKS, 'too many fork hooks');
  store<usize>(forkHooks + <usize>forkHookCount * sizeof<usize>(), changetype<usize>(hook));
  forkHookCount++;
}

/** Adds a clean-up that exit runs; called once per kind when the kernel starts. */
export function registerExitHook(hook: ExitHook): void {
  if (!ASC_NO_ASSERT) assert(exitHookCount < MAX_EXIT_HOOKS, 'too many exit hooks');
  store<usize>(exitHooks + <usize>exitHookCount * sizeof<usize>(), changetype<usize>(hook));
  exitHookCount++;
}

/** The live process with that pid, or null. */
// @ts-ignore: decorator
@inline export function getProcess(pid: i32): Process | null {
  if (<u32>pid >= <u32>tableCap) return null;
  return changetype<Process | null>(load<usize>(table + (<usize>pid << 2)));
}

function reservePid(): bool {
  if (nextPid < tableCap) return true;
  if (nextPid == i32.MAX_VALUE) return false;
  const cap = tableCap == 0 ? 64 : tableCap << 1;
  const grown = realloc(table, <usize>tableCap << 2, <usize>cap << 2, <usize>tableCap << 2);
  if (grown == 0) return false;
  memory.fill(grown + (<usize>tableCap << 2), 0, <usize>(cap - tableCap) << 2);
  table = grown;
  tableCap = cap;
  return true;
}

/** A new process; `groups` points at `ngroups` u32 the caller owns. Answers its pid, or 0 when memory is exhausted. */
export function spawn(uid: u32, gid: u32, caps: u64, groups: usize, ngroups: i32): i32 {
  if (!reservePid()) return 0;
  const p = changetype<Process>(alloc(offsetof<Process>()));
  if (changetype<usize>(p) == 0) return 0;
  let copy: usize = 0;
  if (ngroups > 0) {
    copy = alloc(<usize>ngroups << 2);
    if (copy == 0) {
      free(changetype<usize>(p), offsetof<Process>());
      return 0;
    }
    memory.copy(copy, groups, <usize>ngroups << 2);
  }
  p.pid = nextPid++;
  p.uid = uid;
  p.gid = gid;
  p.ngroups = ngroups > 0 ? ngroups : 0;
  p.groups = copy;
  p.caps = caps;
  p.waitHead = 0;
  p.waitTail = 0;
  p.semUndo = 0;
  p.fds = 0;
  p.sigpipes = 0;
  store<usize>(table + (<usize>p.pid << 2), changetype<usize>(p));
  return p.pid;
}

/**
 * A child with the parent's credentials and what the fork hooks copy (its
 * descriptors); its pid, or 0 when memory is exhausted (the half-made child
 * exits, so nothing stays changed).
 */
export function fork(parent: Process): i32 {
  const pid = spawn(parent.uid, parent.gid, parent.caps, parent.groups, parent.ngroups);
  if (pid == 0) return 0;
  const child = changetype<Process>(load<usize>(table + (<usize>pid << 2)));
  for (let i = 0; i < forkHookCount; i++) {
    if (!changetype<ForkHook>(load<usize>(forkHooks + <usize>i * sizeof<usize>()))(parent, child)) {
      exit(child);
      return 0;
    }
  }
  return pid;
}

/** exit_group: every registered clean-up runs, then the pid is gone (later calls: ESRCH). */
export function exit(p: Process): void {
  for (let i = 0; i < exitHookCount; i++) {
    changetype<ExitHook>(load<usize>(exitHooks + <usize>i * sizeof<usize>()))(p);
  }
  if (!ASC_NO_ASSERT) assert(p.waitHead == 0, 'a call survived exit');
  store<usize>(table + (<usize>p.pid << 2), 0);
  if (p.groups != 0) free(p.groups, <usize>p.ngroups << 2);
  free(changetype<usize>(p), offsetof<Process>());
}

// @ts-ignore: decorator
@inline export function hasCap(p: Process, cap: i32): bool {
  return ((p.caps >> <u64>cap) & 1) != 0;
}

/** in_group_p(): the effective gid or a supplementary group. */
export function inGroup(p: Process, gid: u32): bool {
  if (p.gid == gid) return true;
  for (let i = 0; i < p.ngroups; i++) {
    if (load<u32>(p.groups + (<usize>i << 2)) == gid) return true;
  }
  return false;
}
