/**
 * SEM_UNDO adjustments (ipc/sem.c: struct sem_undo, sem_undo_list): one
 * entry per process and set, on two lists at once: the process's
 * (Process.semUndo, most recently used first, as lookup_undo() keeps it)
 * and the set's (list_id), which SETVAL, SETALL and IPC_RMID walk.
 *
 *   SemUndo = links (process, set) + semid + nsems + i16 semadj[nsems]
 *
 * An adjustment is the opposite of what the process's SEM_UNDO ops did;
 * perform_atomic_semop keeps it within [-SEMAEM - 1, SEMAEM], so it fits an
 * i16, and exit_sem() adds it back.
 */

import { EINVAL, ENOMEM } from '../errno';
import { obtain } from '../ipc/registry';
import { allocZeroed, free } from '../mem/alloc';
import { Process } from '../proc/process';
import { SemArray, semIds } from './set';

@unmanaged
export class SemUndo {
  /** The process's list (sem_undo_list.list_proc), most recently used first. */
  procNext: usize;
  procPrev: usize;
  /** The set's list (sma->list_id), newest first. */
  setNext: usize;
  setPrev: usize;
  /** The Process whose list holds it. */
  proc: usize;
  semid: i32;
  nsems: i32;
}

/** Bytes of an entry for a set of `nsems`. */
// @ts-ignore: decorator
@inline function undoBytes(nsems: i32): usize {
  return offsetof<SemUndo>() + (<usize>nsems << 1);
}

/** Address of semadj[num]. */
// @ts-ignore: decorator
@inline export function adjAt(un: usize, num: i32): usize {
  return un + offsetof<SemUndo>() + (<usize>num << 1);
}

/** lookup_undo(): the process's entry for semid, moved to the front of its list; 0 for none. */
export function lookupUndo(p: Process, semid: i32): usize {
  let cur = p.semUndo;
  while (cur != 0) {
    const un = changetype<SemUndo>(cur);
    if (un.semid == semid) {
      if (un.procPrev != 0) {
        unlinkProc(p, un);
        linkProcFront(p, un);
      }
      return cur;
    }
    cur = un.procNext;
  }
  return 0;
}

/** What findAllocUndo found or made. */
export let foundUndo: usize = 0;

/**
 * find_alloc_undo(): the process's entry for semid, or a new zeroed one for
 * the set the id names now (EINVAL for a bad id, ENOMEM). A new entry stays
 * even if the call then fails, as on Linux: exit_sem() visits it.
 */
export function findAllocUndo(p: Process, semid: i32): i32 {
  const known = lookupUndo(p, semid);
  if (known != 0) {
    foundUndo = known;
    return 0;
  }
  const sma = changetype<SemArray | null>(obtain(semIds, semid));
  if (sma === null) return -EINVAL;
  const un = changetype<SemUndo>(allocZeroed(undoBytes(sma.nsems)));
  if (changetype<usize>(un) == 0) return -ENOMEM;
  un.semid = semid;
  un.nsems = sma.nsems;
  un.proc = changetype<usize>(p);
  linkProcFront(p, un);
  un.setPrev = 0;
  un.setNext = sma.undoHead;
  if (sma.undoHead != 0) changetype<SemUndo>(sma.undoHead).setPrev = changetype<usize>(un);
  sma.undoHead = changetype<usize>(un);
  foundUndo = changetype<usize>(un);
  return 0;
}

function linkProcFront(p: Process, un: SemUndo): void {
  un.procPrev = 0;
  un.procNext = p.semUndo;
  if (p.semUndo != 0) changetype<SemUndo>(p.semUndo).procPrev = changetype<usize>(un);
  p.semUndo = changetype<usize>(un);
}

function unlinkProc(p: Process, un: SemUndo): void {
  if (un.procPrev != 0) changetype<SemUndo>(un.procPrev).procNext = un.procNext;
  else p.semUndo = un.procNext;
  if (un.procNext != 0) changetype<SemUndo>(un.procNext).procPrev = un.procPrev;
  un.procPrev = 0;
  un.procNext = 0;
}

function unlinkSet(sma: SemArray, un: SemUndo): void {
  if (un.setPrev != 0) changetype<SemUndo>(un.setPrev).setNext = un.setNext;
  else sma.undoHead = un.setNext;
  if (un.setNext != 0) changetype<SemUndo>(un.setNext).setPrev = un.setPrev;
  un.setPrev = 0;
  un.setNext = 0;
}

/** Takes an entry off both lists and frees it. */
export function dropUndo(sma: SemArray, un: SemUndo): void {
  unlinkSet(sma, un);
  unlinkProc(changetype<Process>(un.proc), un);
  free(changetype<usize>(un), undoBytes(un.nsems));
}

/** semctl_setval(): semaphore `num`'s adjustment is 0 in every process. */
export function clearUndoSem(sma: SemArray, num: i32): void {
  let cur = sma.undoHead;
  while (cur != 0) {
    store<i16>(adjAt(cur, num), 0);
    cur = changetype<SemUndo>(cur).setNext;
  }
}

/** SETALL: every adjustment for the set is 0 in every process. */
export function clearUndoAll(sma: SemArray): void {
  let cur = sma.undoHead;
  while (cur != 0) {
    memory.fill(adjAt(cur, 0), 0, <usize>sma.nsems << 1);
    cur = changetype<SemUndo>(cur).setNext;
  }
}

/** freeary(): every process's entry for the set goes (their exits then ignore it). */
export function dropSetUndos(sma: SemArray): void {
  while (sma.undoHead != 0) dropUndo(sma, changetype<SemUndo>(sma.undoHead));
}
