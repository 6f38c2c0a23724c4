/**
 * The semaphore set object (ipc/sem.c: struct sem_array, struct sem), its
 * creation (newary) and the namespace counters semget and SEM_INFO use.
 *
 *   SemArray = IpcPerm (key, ids, mode, seq, id)
 *            + ctime, nsems
 *            + pending_alter, pending_const        sleepers of several ops
 *              (and, while such exist, single-op alterers: sem/queue.ts)
 *            + complexCount                        sleepers of several ops
 *            + undo entries of every process       (list_id: sem/undo.ts)
 *            + Sem[nsems]                          inline, after the header
 *
 *   Sem = semval, sempid, otime
 *       + pending_alter, pending_const             single-op sleepers on it
 */

import { ENOMEM, ENOSPC, EINVAL } from '../errno';
import { IpcPerm, S_IRWXUGO } from '../ipc/perm';
import { addId, Registry } from '../ipc/registry';
import { semCtlMni, semCtlMns } from '../limits';
import { alloc, free } from '../mem/alloc';
import { Process } from '../proc/process';
import { listInit, WaitList } from '../wait/waiters';
import { now } from '../abi';

@unmanaged
export class SemArray extends IpcPerm {
  ctime: i64;
  nsems: i32;
  /** Sleepers of more than one op (sma->complex_count); while > 0 every altering sleeper waits on the set's list. */
  complexCount: i32;
  // pending_alter: a WaitList laid out in place (setAlter())
  altHead: usize;
  altTail: usize;
  // pending_const: a WaitList laid out in place (setConst())
  constHead: usize;
  constTail: usize;
  /** The processes' undo entries for this set (list_id), a SemUndo list. */
  undoHead: usize;
}

/** Where the Sem array starts: after the header, 8-byte aligned (Sem.otime is an i64). */
const HEADER: usize = (offsetof<SemArray>() + 7) & ~7;

@unmanaged
export class Sem {
  semval: i32;
  /** The pid of the last process that changed or waited on it (0: none yet). */
  sempid: i32;
  /** When a semop last completed with this as its first op (IPC_STAT reports the latest of all). */
  otime: i64;
  // pending_alter: a WaitList laid out in place (semAlter())
  altHead: usize;
  altTail: usize;
  // pending_const: a WaitList laid out in place (semConst())
  constHead: usize;
  constTail: usize;
}

/** The size of a Sem, kept at 8-byte multiples (otime is an i64). */
export const SEM_SIZE: usize = (offsetof<Sem>() + 7) & ~7;

// @ts-ignore: decorator
@inline export function semAt(sma: SemArray, num: i32): Sem {
  return changetype<Sem>(changetype<usize>(sma) + HEADER + <usize>num * SEM_SIZE);
}

// @ts-ignore: decorator
@inline export function setAlter(sma: SemArray): WaitList {
  return changetype<WaitList>(changetype<usize>(sma) + offsetof<SemArray>('altHead'));
}

// @ts-ignore: decorator
@inline export function setConst(sma: SemArray): WaitList {
  return changetype<WaitList>(changetype<usize>(sma) + offsetof<SemArray>('constHead'));
}

// @ts-ignore: decorator
@inline export function semAlter(s: Sem): WaitList {
  return changetype<WaitList>(changetype<usize>(s) + offsetof<Sem>('altHead'));
}

// @ts-ignore: decorator
@inline export function semConst(s: Sem): WaitList {
  return changetype<WaitList>(changetype<usize>(s) + offsetof<Sem>('constHead'));
}

/** Bytes of a set of `nsems` semaphores, or 0 when no wasm32 instance could hold it. */
export function arrayBytes(nsems: i32): usize {
  const bytes = <u64>HEADER + <u64>nsems * <u64>SEM_SIZE;
  return bytes > <u64>0xffff0000 ? 0 : <usize>bytes;
}

/** The registry of semaphore sets (sem_ids(ns)); set up by the kernel's init. */
export let semIds: Registry = changetype<Registry>(0);

export function setSemIds(ids: Registry): void {
  semIds = ids;
}

/** Semaphores in all sets (ns->used_sems): checked against semmns, reported by SEM_INFO. */
export let usedSems: i32 = 0;

export function addUsedSems(n: i32): void {
  usedSems += n;
}

/**
 * newary(): nsems 0 is EINVAL here, where only creation reaches (a lookup
 * may ask for 0); semmns is checked before the set is allocated (ENOSPC),
 * semmni by ipc_addid after (ENOSPC). Every value, sempid and otime starts
 * at 0, ctime now.
 */
export function newArray(ids: Registry, p: Process, key: i32, flg: i32, arg: i64): i32 {
  const nsems = <i32>arg;
  if (nsems == 0) return -EINVAL;
  if (<i64>usedSems + <i64>nsems > <i64>semCtlMns) return -ENOSPC;
  const bytes = arrayBytes(nsems);
  if (bytes == 0) return -ENOMEM;
  const sma = changetype<SemArray>(alloc(bytes));
  if (changetype<usize>(sma) == 0) return -ENOMEM;
  sma.mode = flg & S_IRWXUGO;
  sma.key = key;
  sma.ctime = now();
  sma.nsems = nsems;
  sma.complexCount = 0;
  listInit(setAlter(sma));
  listInit(setConst(sma));
  sma.undoHead = 0;
  for (let i = 0; i < nsems; i++) {
    const s = semAt(sma, i);
    s.semval = 0;
    s.sempid = 0;
    s.otime = 0;
    listInit(semAlter(s));
    listInit(semConst(s));
  }
  const idx = addId(ids, sma, semCtlMni, p);
  if (idx < 0) {
    free(changetype<usize>(sma), bytes);
    return idx;
  }
  usedSems += nsems;
  return sma.id;
}

/** sem_more_checks(): a lookup may not ask for more semaphores than the set has. */
export function moreChecks(obj: IpcPerm, arg: i64): i32 {
  return arg > <i64>changetype<SemArray>(changetype<usize>(obj)).nsems ? -EINVAL : 0;
}

/** get_semotime(): the latest otime of any semaphore of the set. */
export function semOtime(sma: SemArray): i64 {
  let t: i64 = 0;
  for (let i = 0; i < sma.nsems; i++) {
    const o = semAt(sma, i).otime;
    if (o > t) t = o;
  }
  return t;
}
