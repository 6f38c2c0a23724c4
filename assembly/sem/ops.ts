/**
 * semget, semop / semtimedop and the exit clean-up: ipc/sem.c's
 * ksys_semget, do_semtimedop / __do_semtimedop and exit_sem, with their
 * error order.
 *
 * semop's ops cross the ABI as struct sembuf in the staging buffer
 * (u16 sem_num, i16 sem_op, i16 sem_flg); a call of one op may pass it as
 * arguments instead (semOpOne), the hot path, which allocates nothing.
 */

import { NEED_STAGE, now, stage, stageBytes } from '../abi';
import { E2BIG, EACCES, EAGAIN, EFBIG, EINVAL, ERANGE } from '../errno';
import { ipcDenied, S_IRUGO, S_IWUGO } from '../ipc/perm';
import { ipcGet, IPC_NOWAIT, newRegistry, obtain } from '../ipc/registry';
import { SEMAEM, semCtlMsl, semCtlOpm, SEMVMX } from '../limits';
import { Process, registerExitHook } from '../proc/process';
import {
  blockedAt, doSmartUpdate, doSmartUpdateOne, initSemQueue, perform, SEM_UNDO, SEMBUF, setOtime, sleepOn,
  unmergeIfIdle,
} from './queue';
import { moreChecks, newArray, SemArray, semAt, semIds, setSemIds } from './set';
import { adjAt, dropUndo, findAllocUndo, foundUndo, SemUndo } from './undo';


/** Sets up the semaphore kind; false when memory is exhausted. */
export function initSem(): bool {
  const ids = newRegistry();
  if (ids === null) return false;
  setSemIds(ids);
  initSemQueue();
  registerExitHook(exitSem);
  return true;
}

// --- semget ---------------------------------------------------------------

/** ksys_semget(): nsems outside [0, semmsl] is EINVAL before the key is looked up. */
export function semGet(p: Process, key: i32, nsems: i32, flg: i32): i32 {
  if (nsems < 0 || nsems > semCtlMsl) return -EINVAL;
  return ipcGet(semIds, p, key, flg, <i64>nsems, newArray, changetype<usize>(moreChecks));
}

// --- semop ----------------------------------------------------------------

/**
 * do_semtimedop(): E2BIG (more than semopm ops: nsops is unsigned there),
 * EINVAL (no ops, a negative id, a malformed timespec, even when the call
 * would not sleep), then the ops are read (staging buffer), the undo entry
 * found or made (its lookup of the id: EINVAL), the set looked up (EINVAL),
 * EFBIG for a sem_num ≥ nsems, EACCES (alter permission if any op changes
 * a value, else read). 0, -errno, PENDING, or NEED_STAGE.
 */
export function semOp(p: Process, semid: i32, nsops: i32, badTimeout: i32): i32 {
  if (<u32>nsops > <u32>semCtlOpm) return -E2BIG;
  if (nsops < 1 || semid < 0 || badTimeout != 0) return -EINVAL;
  if (<u64>nsops * <u64>SEMBUF > <u64>stageBytes()) return NEED_STAGE;
  const sops = stage();
  let max = 0;
  let undos = false;
  let alter = false;
  for (let i = 0; i < nsops; i++) {
    const sop = sops + <usize>i * SEMBUF;
    const num = <i32>load<u16>(sop);
    if (num > max) max = num;
    if (<i32>load<i16>(sop, 4) & SEM_UNDO) undos = true;
    if (load<i16>(sop, 2) != 0) alter = true;
  }
  let un: usize = 0;
  if (undos) {
    const err = findAllocUndo(p, semid);
    if (err != 0) return err;
    un = foundUndo;
  }
  const sma = changetype<SemArray | null>(obtain(semIds, semid));
  if (sma === null) return -EINVAL;
  if (max >= sma.nsems) return -EFBIG;
  if (ipcDenied(p, sma, alter ? S_IWUGO : S_IRUGO)) return -EACCES;
  const r = perform(sma, sops, nsops, un, p.pid);
  if (r == 0) {
    if (alter) doSmartUpdate(sma, sops, nsops, true);
    else setOtime(sma, sops);
    unmergeIfIdle(sma);
    return 0;
  }
  if (r < 0) return r;
  return sleepOn(sma, p, sops, nsops, alter, un, blockedAt);
}

/** The one struct sembuf of semOpOne, for when it sleeps. */
const oneOp = memory.data(8, 8);

/**
 * semop() of one op given as arguments (num: the u16 sem_num, op: the i16
 * sem_op, flg: the i16 sem_flg): the same checks and answers as semOp.
 */
// @ts-ignore: decorator
@inline export function semOpOne(p: Process, semid: i32, num: i32, op: i32, flg: i32): i32 {
  if (<u32>semCtlOpm < 1) return -E2BIG;
  if (semid < 0) return -EINVAL;
  let un: usize = 0;
  if (flg & SEM_UNDO) {
    const err = findAllocUndo(p, semid);
    if (err != 0) return err;
    un = foundUndo;
  }
  const sma = changetype<SemArray | null>(obtain(semIds, semid));
  if (sma === null) return -EINVAL;
  if (num >= sma.nsems) return -EFBIG;
  if (ipcDenied(p, sma, op != 0 ? S_IWUGO : S_IRUGO)) return -EACCES;
  const s = semAt(sma, num);
  const val = s.semval;
  if (op == 0 ? val != 0 : val + op < 0) {
    if (flg & IPC_NOWAIT) return -EAGAIN;
    store<u16>(oneOp, <u16>num);
    store<i16>(oneOp, <i16>op, 2);
    store<i16>(oneOp, <i16>flg, 4);
    return sleepOn(sma, p, oneOp, 1, op != 0, un, 0);
  }
  const r = val + op;
  if (r > SEMVMX) return -ERANGE;
  if (flg & SEM_UNDO) {
    const a = adjAt(un, num);
    const undo = <i32>load<i16>(a) - op;
    if (undo < -SEMAEM - 1 || undo > SEMAEM) return -ERANGE;
    store<i16>(a, <i16>undo);
  }
  s.semval = r;
  s.sempid = p.pid;
  if (op != 0) doSmartUpdateOne(sma, s, num, op);
  else s.otime = now();
  unmergeIfIdle(sma);
  return 0;
}

// --- exit -----------------------------------------------------------------

/**
 * exit_sem(): each undo entry, most recently used first, is added to its
 * set's values, each result clamped to [0, SEMVMX] (never blocking, never
 * ERANGE); only semaphores with a nonzero adjustment change and get the
 * exiting pid. Then the set's sleepers run as after SETVAL, and otime is set.
 * Entries of removed sets were dropped at their removal.
 */
function exitSem(p: Process): void {
  while (p.semUndo != 0) {
    const un = changetype<SemUndo>(p.semUndo);
    const sma = changetype<SemArray>(obtain(semIds, un.semid));
    if (!ASC_NO_ASSERT) assert(changetype<usize>(sma) != 0, 'an undo entry outlived its set');
    for (let i = 0; i < un.nsems; i++) {
      const adj = <i32>load<i16>(adjAt(changetype<usize>(un), i));
      if (adj == 0) continue;
      const s = semAt(sma, i);
      let v = s.semval + adj;
      if (v < 0) v = 0;
      if (v > SEMVMX) v = SEMVMX;
      s.semval = v;
      s.sempid = p.pid;
    }
    dropUndo(sma, un);
    doSmartUpdate(sma, 0, 0, true);
    unmergeIfIdle(sma);
  }
}
