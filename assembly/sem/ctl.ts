/**
 * semctl: ipc/sem.c's ksys_semctl, semctl_info, semctl_stat, semctl_main,
 * semctl_setval, semctl_down and freeary, with their error order.
 *
 * Values cross in the staging buffer as u16 (C's unsigned short): GETALL
 * leaves nsems of them there, SETALL reads `count` of them from there.
 */

import { C_AUX, C_INFO, C_STAT, cellAddr, now, reserveStage, stage, stageBytes } from '../abi';
import { EACCES, EIDRM, EINVAL, ENOMEM, EPERM, ERANGE } from '../errno';
import { ipcDenied, ipcMayChange, ipcUpdatePerm, S_IRUGO, S_IWUGO } from '../ipc/perm';
import { maxIdx, obtain, obtainByIndex, rmId } from '../ipc/registry';
import { SEMAEM, SEMMAP, SEMMNU, semCtlMni, semCtlMns, semCtlMsl, semCtlOpm, SEMUME, SEMUSZ, SEMVMX } from '../limits';
import { free } from '../mem/alloc';
import { Process } from '../proc/process';
import { countSem, doSmartUpdate, failAll, unmergeIfIdle } from './queue';
import { addUsedSems, arrayBytes, SemArray, semAt, semIds, semOtime, usedSems } from './set';
import { clearUndoAll, clearUndoSem, dropSetUndos } from './undo';
import { NEED_STAGE } from '../abi';

export const IPC_RMID: i32 = 0;
export const IPC_SET: i32 = 1;
export const IPC_STAT: i32 = 2;
export const IPC_INFO: i32 = 3;
export const GETPID: i32 = 11;
export const GETVAL: i32 = 12;
export const GETALL: i32 = 13;
export const GETNCNT: i32 = 14;
export const GETZCNT: i32 = 15;
export const SETVAL: i32 = 16;
export const SETALL: i32 = 17;
export const SEM_STAT: i32 = 18;
export const SEM_INFO: i32 = 19;
export const SEM_STAT_ANY: i32 = 20;

/** semctl IPC_SET: which fields the caller gave (the others keep their values). */
export const SET_UID: i32 = 1;
export const SET_GID: i32 = 2;
export const SET_MODE: i32 = 4;

/** SETALL's answer when `count` is not the set's nsems (C_AUX holds nsems): C would read nsems values from the caller's array. */
export const VALUES_MISMATCH: i32 = -0x10003;

/**
 * ksys_semctl(): a negative id is EINVAL before anything, whatever the
 * command; an unknown command is EINVAL. `arg` is SETVAL's value (the int
 * of union semun) or the number of values SETALL staged; mask/uid/gid/mode
 * are IPC_SET's fields.
 */
export function semCtl(p: Process, semid: i32, semnum: i32, cmd: i32, arg: i32, mask: i32, uid: u32, gid: u32, mode: i32): i32 {
  if (semid < 0) return -EINVAL;
  switch (cmd) {
    case IPC_INFO:
    case SEM_INFO:
      return semctlInfo(cmd);
    case IPC_STAT:
    case SEM_STAT:
    case SEM_STAT_ANY:
      return semctlStat(p, semid, cmd);
    case GETALL:
    case GETVAL:
    case GETPID:
    case GETNCNT:
    case GETZCNT:
    case SETALL:
      return semctlMain(p, semid, semnum, cmd, arg);
    case SETVAL:
      return semctlSetval(p, semid, semnum, arg);
    case IPC_SET:
      return semctlSet(p, semid, mask, uid, gid, mode);
    case IPC_RMID:
      return semctlRmid(p, semid);
  }
  return -EINVAL;
}

/**
 * semctl_info(): the limits (semmap, semmnu, semume are compile-time
 * constants; IPC_INFO's semusz and semaem too); SEM_INFO puts the set count
 * in semusz and the semaphore count in semaem. The id is not looked up.
 * Answers the highest index in use, 0 when there is none.
 */
function semctlInfo(cmd: i32): i32 {
  const info = cellAddr(C_INFO);
  const full = cmd == SEM_INFO;
  store<i32>(info, SEMMAP);
  store<i32>(info, semCtlMni, 4);
  store<i32>(info, semCtlMns, 8);
  store<i32>(info, SEMMNU, 12);
  store<i32>(info, semCtlMsl, 16);
  store<i32>(info, semCtlOpm, 20);
  store<i32>(info, SEMUME, 24);
  store<i32>(info, full ? semIds.inUse : SEMUSZ, 28);
  store<i32>(info, SEMVMX, 32);
  store<i32>(info, full ? usedSems : SEMAEM, 36);
  const max = maxIdx(semIds);
  return max < 0 ? 0 : max;
}

/**
 * semctl_stat(): IPC_STAT checks the whole id; SEM_STAT and SEM_STAT_ANY
 * take only its index bits and answer the full id. All but SEM_STAT_ANY
 * need read permission. sem_otime is the latest of the semaphores' times.
 */
function semctlStat(p: Process, semid: i32, cmd: i32): i32 {
  const sma = changetype<SemArray | null>(cmd == IPC_STAT ? obtain(semIds, semid) : obtainByIndex(semIds, semid));
  if (sma === null) return -EINVAL;
  if (cmd != SEM_STAT_ANY && ipcDenied(p, sma, S_IRUGO)) return -EACCES;
  const s = cellAddr(C_STAT);
  store<f64>(s, <f64>sma.key);
  store<f64>(s, <f64>sma.uid, 8);
  store<f64>(s, <f64>sma.gid, 16);
  store<f64>(s, <f64>sma.cuid, 24);
  store<f64>(s, <f64>sma.cgid, 32);
  store<f64>(s, <f64>sma.mode, 40);
  store<f64>(s, <f64>semOtime(sma), 48);
  store<f64>(s, <f64>sma.ctime, 56);
  store<f64>(s, <f64>sma.nsems, 64);
  return cmd == IPC_STAT ? 0 : sma.id;
}

/**
 * semctl_main(): the id (EINVAL), permission (read; alter for SETALL:
 * EACCES), then the command. GETALL answers nsems with the values in the
 * staging buffer. SETALL takes nsems values (ERANGE if any is above SEMVMX:
 * nothing changes), sets every sempid, clears every process's adjustments
 * for the set, sets ctime and lets sleepers through. The others check
 * semnum (EINVAL) after permission.
 */
function semctlMain(p: Process, semid: i32, semnum: i32, cmd: i32, count: i32): i32 {
  const sma = changetype<SemArray | null>(obtain(semIds, semid));
  if (sma === null) return -EINVAL;
  const nsems = sma.nsems;
  if (ipcDenied(p, sma, cmd == SETALL ? S_IWUGO : S_IRUGO)) return -EACCES;
  if (cmd == GETALL) {
    if (!reserveStage(<usize>nsems << 1)) return -ENOMEM;
    const out = stage();
    for (let i = 0; i < nsems; i++) store<u16>(out + (<usize>i << 1), <u16>semAt(sma, i).semval);
    return nsems;
  }
  if (cmd == SETALL) {
    if (count != nsems) {
      store<i32>(cellAddr(C_AUX), nsems);
      return VALUES_MISMATCH;
    }
    if (<usize>nsems << 1 > stageBytes()) return NEED_STAGE;
    const values = stage();
    for (let i = 0; i < nsems; i++) {
      if (<i32>load<u16>(values + (<usize>i << 1)) > SEMVMX) return -ERANGE;
    }
    for (let i = 0; i < nsems; i++) {
      const s = semAt(sma, i);
      s.semval = <i32>load<u16>(values + (<usize>i << 1));
      s.sempid = p.pid;
    }
    clearUndoAll(sma);
    sma.ctime = now();
    doSmartUpdate(sma, 0, 0, false);
    unmergeIfIdle(sma);
    return 0;
  }
  if (semnum < 0 || semnum >= nsems) return -EINVAL;
  switch (cmd) {
    case GETVAL:
      return semAt(sma, semnum).semval;
    case GETPID:
      return semAt(sma, semnum).sempid;
    case GETNCNT:
      return countSem(sma, semnum, false);
  }
  return countSem(sma, semnum, true);
}

/**
 * semctl_setval(): the value (ERANGE outside [0, SEMVMX]) before the id
 * (EINVAL), then semnum (EINVAL) before permission (alter: EACCES). Clears
 * that semaphore's adjustment in every process, sets sempid and ctime, and
 * lets sleepers through (otime only if one completes).
 */
function semctlSetval(p: Process, semid: i32, semnum: i32, val: i32): i32 {
  if (val > SEMVMX || val < 0) return -ERANGE;
  const sma = changetype<SemArray | null>(obtain(semIds, semid));
  if (sma === null) return -EINVAL;
  if (semnum < 0 || semnum >= sma.nsems) return -EINVAL;
  if (ipcDenied(p, sma, S_IWUGO)) return -EACCES;
  clearUndoSem(sma, semnum);
  const s = semAt(sma, semnum);
  s.semval = val;
  s.sempid = p.pid;
  sma.ctime = now();
  doSmartUpdate(sma, 0, 0, false);
  unmergeIfIdle(sma);
  return 0;
}

/**
 * semctl_down(IPC_SET): the id (EINVAL), the right to change it (creator,
 * owner or CAP_SYS_ADMIN: EPERM), the new owner (EINVAL for (uid_t)-1);
 * then ctime. Nobody is woken: permission is not checked again for
 * sleepers.
 */
function semctlSet(p: Process, semid: i32, mask: i32, uid: u32, gid: u32, mode: i32): i32 {
  const sma = changetype<SemArray | null>(obtain(semIds, semid));
  if (sma === null) return -EINVAL;
  if (!ipcMayChange(p, sma)) return -EPERM;
  if (!(mask & SET_UID)) uid = sma.uid;
  if (!(mask & SET_GID)) gid = sma.gid;
  if (!(mask & SET_MODE)) mode = sma.mode;
  const err = ipcUpdatePerm(sma, uid, gid, mode);
  if (err != 0) return err;
  sma.ctime = now();
  return 0;
}

/**
 * semctl_down(IPC_RMID) → freeary(): every process's undo entry for the set
 * goes, every sleeper fails with EIDRM, the id and key are free at once.
 */
function semctlRmid(p: Process, semid: i32): i32 {
  const sma = changetype<SemArray | null>(obtain(semIds, semid));
  if (sma === null) return -EINVAL;
  if (!ipcMayChange(p, sma)) return -EPERM;
  dropSetUndos(sma);
  failAll(sma, -EIDRM);
  rmId(semIds, sma);
  addUsedSems(-sma.nsems);
  free(changetype<usize>(sma), arrayBytes(sma.nsems));
  return 0;
}
