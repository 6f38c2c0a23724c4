/**
 * Who sleeps where and who wakes whom (ipc/sem.c: perform_atomic_semop,
 * update_queue, wake_const_ops, do_smart_wakeup_zero, do_smart_update,
 * merge_queues, unmerge_queues, count_semcnt).
 *
 * Sleepers never retry on their own: the call that changes the values runs
 * the sleepers' operations for them, in Linux's order, and completes those
 * that now pass (or fail with EAGAIN / ERANGE) before it returns. So a value
 * read right after a waking call already includes the sleepers' ops.
 *
 * Where a sleeper waits (the lists only decide order; a sleeper holds
 * nothing while it waits):
 *   - one op, wait-for-zero:          its semaphore's pending_const
 *   - one op, altering:               its semaphore's pending_alter, or the
 *                                     set's while complex sleepers exist
 *   - several ops:                    the set's pending_alter (any op
 *                                     alters) or pending_const
 * When the first complex sleeper arrives, merge_queues() moves every
 * per-semaphore altering sleeper onto the set's list; when the last one
 * leaves, unmerge_queues() moves them back (at the end of the call, where
 * Linux drops the set's global lock).
 *
 * A sleeper is a Waiter: block = its own copy of the sops (6 bytes each),
 * arg3 = nsops, arg2 = the index of the op it blocked on (q->blocking),
 * arg0 = its SemUndo entry (0 without SEM_UNDO), proc = its process.
 */

import { C_TOKEN, cellAddr, now } from '../abi';
import { EAGAIN, ENOMEM, ERANGE } from '../errno';
import { IPC_NOWAIT } from '../ipc/registry';
import { SEMAEM, SEMVMX } from '../limits';
import { alloc, free } from '../mem/alloc';
import { Process } from '../proc/process';
import {
  complete, listAppend, listRemove, park, PENDING, registerKind, WaitList, Waiter,
} from '../wait/waiters';
import { Sem, SemArray, semAlter, semAt, semConst, setAlter, setConst } from './set';
import { adjAt } from './undo';

export const SEM_UNDO: i32 = 0x1000;

/** struct sembuf: u16 sem_num, i16 sem_op, i16 sem_flg. */
export const SEMBUF: usize = 6;

/** perform()'s answer when the call has to sleep. */
export const BLOCKED: i32 = 1;

/** The index of the op perform() stopped at when it answered BLOCKED or EAGAIN. */
export let blockedAt: i32 = 0;

let semKind: i32 = -1;

export function initSemQueue(): void {
  semKind = registerKind(neverRetried, releaseSleeper);
}

/**
 * perform_atomic_semop(), in its sequential form (perform_atomic_semop_slow,
 * which gives the same answers as the two-pass one whenever that applies):
 * each op in array order on the values the earlier ops left. The first op
 * that cannot proceed decides: it sleeps (BLOCKED), or fails with EAGAIN
 * if it has IPC_NOWAIT; an op that would take a value above SEMVMX, or an
 * adjustment outside [-SEMAEM - 1, SEMAEM], is ERANGE. On anything but
 * success every op already applied is undone, so nothing changes. On
 * success every semaphore named gets `pid` as its sempid, wait-for-zero ops
 * included.
 */
export function perform(sma: SemArray, sops: usize, nsops: i32, un: usize, pid: i32): i32 {
  let i = 0;
  let result = 0;
  for (; i < nsops; i++) {
    const sop = sops + <usize>i * SEMBUF;
    const num = <i32>load<u16>(sop);
    const op = <i32>load<i16>(sop, 2);
    const s = semAt(sma, num);
    const val = s.semval;
    if (op == 0 ? val != 0 : val + op < 0) {
      blockedAt = i;
      result = (<i32>load<i16>(sop, 4) & IPC_NOWAIT) ? -EAGAIN : BLOCKED;
      break;
    }
    const r = val + op;
    if (r > SEMVMX) {
      result = -ERANGE;
      break;
    }
    if (<i32>load<i16>(sop, 4) & SEM_UNDO) {
      const a = adjAt(un, num);
      const undo = <i32>load<i16>(a) - op;
      if (undo < -SEMAEM - 1 || undo > SEMAEM) {
        result = -ERANGE;
        break;
      }
      store<i16>(a, <i16>undo);
    }
    s.semval = r;
  }
  if (result == 0) {
    for (let j = 0; j < nsops; j++) semAt(sma, <i32>load<u16>(sops + <usize>j * SEMBUF)).sempid = pid;
    return 0;
  }
  while (--i >= 0) {
    const sop = sops + <usize>i * SEMBUF;
    const num = <i32>load<u16>(sop);
    const op = <i32>load<i16>(sop, 2);
    semAt(sma, num).semval -= op;
    if (<i32>load<i16>(sop, 4) & SEM_UNDO) {
      const a = adjAt(un, num);
      store<i16>(a, <i16>(<i32>load<i16>(a) + op));
    }
  }
  return result;
}

/** A sleeper's own ops, as its process and with its undo entry; where it blocks now is remembered for GETNCNT/GETZCNT. */
function performSleeper(sma: SemArray, w: Waiter): i32 {
  const r = perform(sma, w.block, w.arg3, <usize>w.arg0, changetype<Process>(w.proc).pid);
  if (r == BLOCKED) w.arg2 = blockedAt;
  return r;
}

/** unlink_queue(). */
// @ts-ignore: decorator
@inline function unlink(sma: SemArray, w: Waiter): void {
  listRemove(w);
  if (w.arg3 > 1) sma.complexCount--;
}

/** wake_up_sem_queue_prepare(): the sleeper's call returns `result`. Precondition: unlinked. */
// @ts-ignore: decorator
@inline function finish(w: Waiter, result: i32): void {
  free(w.block, <usize>w.arg3 * SEMBUF);
  w.block = 0;
  complete(w, result, 0, 0, 0);
}

/** set_semotime(): the time goes to the semaphore of the first op (semaphore 0 when the ops are not known). */
// @ts-ignore: decorator
@inline export function setOtime(sma: SemArray, sops: usize): void {
  semAt(sma, sops != 0 ? <i32>load<u16>(sops) : 0).otime = now();
}

/** wake_const_ops(): every wait-for-zero sleeper on `l` whose ops now pass (or fail) completes. */
function wakeConstOps(sma: SemArray, l: WaitList): bool {
  let completed = false;
  let cur = l.head;
  while (cur != 0) {
    const w = changetype<Waiter>(cur);
    cur = w.next;
    const r = performSleeper(sma, w);
    if (r > 0) continue;
    unlink(sma, w);
    finish(w, r);
    if (r == 0) completed = true;
  }
  return completed;
}

/**
 * do_smart_wakeup_zero(): the wait-for-zero sleepers of each semaphore the
 * ops named (every semaphore when sops is 0) that is 0 now, then, if any
 * was, the set's complex wait-for-zero sleepers. Only the values the call
 * leaves count: a value that passed through 0 inside one call wakes no one.
 */
function wakeupZero(sma: SemArray, sops: usize, nsops: i32): bool {
  let completed = false;
  let gotZero = false;
  const n = sops != 0 ? nsops : sma.nsems;
  for (let i = 0; i < n; i++) {
    const s = semAt(sma, sops != 0 ? <i32>load<u16>(sops + <usize>i * SEMBUF) : i);
    if (s.semval != 0) continue;
    gotZero = true;
    if (s.constHead != 0 && wakeConstOps(sma, semConst(s))) completed = true;
  }
  if (gotZero && sma.constHead != 0 && wakeConstOps(sma, setConst(sma))) completed = true;
  return completed;
}

/**
 * update_queue(): the altering sleepers of one semaphore (semnum ≥ 0) or
 * of the set (-1), in arrival order, each run on the current values. A
 * sleeper that passes completes, wakes the wait-for-zero sleepers its ops
 * left at 0, and, if it was complex or complex sleepers remain, the scan
 * starts over (check_restart); one that fails (EAGAIN, ERANGE) leaves with
 * its error. A per-semaphore scan stops once the value is 0: none of its
 * decrements could pass.
 */
function updateQueue(sma: SemArray, semnum: i32): bool {
  const l = semnum < 0 ? setAlter(sma) : semAlter(semAt(sma, semnum));
  let completed = false;
  let cur = l.head;
  while (cur != 0) {
    if (semnum >= 0 && semAt(sma, semnum).semval == 0) break;
    const w = changetype<Waiter>(cur);
    cur = w.next;
    const r = performSleeper(sma, w);
    if (r > 0) continue;
    unlink(sma, w);
    let restart = false;
    if (r == 0) {
      completed = true;
      wakeupZero(sma, w.block, w.arg3);
      restart = sma.altHead != 0 || w.arg3 > 1;
    }
    finish(w, r);
    if (restart) cur = l.head;
  }
  return completed;
}

/**
 * do_smart_update(): after values changed (sops: the ops of a semop; 0:
 * not known, as after SETVAL, SETALL or an exit), wait-for-zero sleepers
 * first, then the altering ones: the set's list while it has any, else the
 * list of each semaphore a positive op raised (every semaphore when the ops
 * are not known). otime is set when `otime` or when a sleeper completed.
 */
export function doSmartUpdate(sma: SemArray, sops: usize, nsops: i32, otime: bool): void {
  let changed = otime;
  if (wakeupZero(sma, sops, nsops)) changed = true;
  if (sma.altHead != 0) {
    if (updateQueue(sma, -1)) changed = true;
  } else if (sops == 0) {
    for (let i = 0; i < sma.nsems; i++) {
      if (semAt(sma, i).altHead != 0 && updateQueue(sma, i)) changed = true;
    }
  } else {
    for (let i = 0; i < nsops; i++) {
      const sop = sops + <usize>i * SEMBUF;
      if (load<i16>(sop, 2) > 0 && updateQueue(sma, <i32>load<u16>(sop))) changed = true;
    }
  }
  if (changed) setOtime(sma, sops);
}

/**
 * do_smart_update() after one successful op `op` on semaphore `num` (at
 * `s`): the same steps without walking an op array. The semop itself
 * always sets otime.
 */
// @ts-ignore: decorator
@inline export function doSmartUpdateOne(sma: SemArray, s: Sem, num: i32, op: i32): void {
  if (s.semval == 0) {
    if (s.constHead != 0) wakeConstOps(sma, semConst(s));
    if (sma.constHead != 0) wakeConstOps(sma, setConst(sma));
  }
  if (sma.altHead != 0) updateQueue(sma, -1);
  else if (op > 0 && s.altHead != 0) updateQueue(sma, num);
  s.otime = now();
}

/**
 * unmerge_queues() where Linux drops the set's global lock: with no complex
 * sleeper left, the single-op alterers on the set's list go back to their
 * semaphores' lists, in the order they had.
 */
// @ts-ignore: decorator
@inline export function unmergeIfIdle(sma: SemArray): void {
  if (sma.complexCount == 0 && sma.altHead != 0) unmerge(sma);
}

function unmerge(sma: SemArray): void {
  while (sma.altHead != 0) {
    const w = changetype<Waiter>(sma.altHead);
    listRemove(w);
    listAppend(semAlter(semAt(sma, <i32>load<u16>(w.block))), w);
  }
}

/**
 * merge_queues(): every per-semaphore alterer moves to the set's list.
 * Linux splices each semaphore's list in at the head, so the set's list
 * ends up ordered by semaphore, the highest first. Precondition: no complex
 * sleeper, so the set's list is empty.
 */
function merge(sma: SemArray): void {
  if (!ASC_NO_ASSERT) assert(sma.altHead == 0, 'merge_queues with a non-empty set list');
  for (let i = sma.nsems - 1; i >= 0; i--) {
    const l = semAlter(semAt(sma, i));
    while (l.head != 0) {
      const w = changetype<Waiter>(l.head);
      listRemove(w);
      listAppend(setAlter(sma), w);
    }
  }
}

/**
 * The call sleeps: a copy of its ops on the list its kind belongs to
 * (merging first when it is the first complex sleeper). PENDING with the
 * token in C_TOKEN, or ENOMEM (nothing changed).
 */
export function sleepOn(sma: SemArray, p: Process, sops: usize, nsops: i32, alter: bool, un: usize, blocked: i32): i32 {
  const bytes = <usize>nsops * SEMBUF;
  const copy = alloc(bytes);
  if (copy == 0) return -ENOMEM;
  memory.copy(copy, sops, bytes);
  let l: WaitList;
  let merged = false;
  if (nsops == 1) {
    const s = semAt(sma, <i32>load<u16>(sops));
    l = !alter ? semConst(s) : sma.complexCount != 0 ? setAlter(sma) : semAlter(s);
  } else {
    if (sma.complexCount == 0) {
      merge(sma);
      merged = true;
    }
    l = alter ? setAlter(sma) : setConst(sma);
  }
  const w = park(semKind, p, l, changetype<usize>(sma));
  if (w === null) {
    free(copy, bytes);
    if (merged) unmergeIfIdle(sma);
    return -ENOMEM;
  }
  w.block = copy;
  w.arg0 = <i64>un;
  w.arg1 = 0;
  w.arg2 = blocked;
  w.arg3 = nsops;
  if (nsops > 1) sma.complexCount++;
  store<i32>(cellAddr(C_TOKEN), w.token);
  return PENDING;
}

/** A sleeper that leaves without completing (abort, timeout, exit) frees its ops and may end complex mode. */
function releaseSleeper(w: Waiter): void {
  const sma = changetype<SemArray>(w.obj);
  free(w.block, <usize>w.arg3 * SEMBUF);
  if (w.arg3 > 1) {
    sma.complexCount--;
    unmergeIfIdle(sma);
  }
}

/** Semaphore sleepers are completed by their wakers, never queued to retry (waiters.ts wake()). */
function neverRetried(w: Waiter): void {
  if (!ASC_NO_ASSERT) assert(false, 'a semaphore sleeper was queued to retry');
}

/** freeary(): every sleeper fails with EIDRM: the set's lists, then each semaphore's. */
export function failAll(sma: SemArray, result: i32): void {
  failList(sma, setConst(sma), result);
  failList(sma, setAlter(sma), result);
  for (let i = 0; i < sma.nsems; i++) {
    const s = semAt(sma, i);
    failList(sma, semConst(s), result);
    failList(sma, semAlter(s), result);
  }
}

function failList(sma: SemArray, l: WaitList, result: i32): void {
  while (l.head != 0) {
    const w = changetype<Waiter>(l.head);
    unlink(sma, w);
    finish(w, result);
  }
}

/**
 * count_semcnt(): sleepers on `semnum`'s own list, plus the complex (and
 * merged) sleepers whose blocking op is on `semnum` and of the kind asked
 * for: a decrement for GETNCNT, a wait-for-zero for GETZCNT. A sleeper
 * counts only where it blocks now.
 */
export function countSem(sma: SemArray, semnum: i32, zero: bool): i32 {
  const s = semAt(sma, semnum);
  let n = 0;
  let cur = zero ? s.constHead : s.altHead;
  while (cur != 0) {
    n++;
    cur = changetype<Waiter>(cur).next;
  }
  n += countBlocking(sma.altHead, semnum, zero);
  if (zero) n += countBlocking(sma.constHead, semnum, zero);
  return n;
}

/** check_qop() over a list. */
function countBlocking(head: usize, semnum: i32, zero: bool): i32 {
  let n = 0;
  let cur = head;
  while (cur != 0) {
    const w = changetype<Waiter>(cur);
    const sop = w.block + <usize>w.arg2 * SEMBUF;
    if (<i32>load<u16>(sop) == semnum) {
      const op = load<i16>(sop, 2);
      if (zero ? op == 0 : op < 0) n++;
    }
    cur = w.next;
  }
  return n;
}
