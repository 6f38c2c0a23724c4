/**
 * The kernel model's flat ABI. Everything crossing it is an i32 (or an f64
 * the host reads from the cells); no managed object crosses, and nothing
 * here ever blocks.
 *
 * Answers. A syscall export answers a result ≥ 0, or -errno (Linux's
 * numbers, errno.ts), or PENDING (-0x10000): the call sleeps, and its token
 * is in the C_TOKEN cell. Larger answers go to the cells (abi.ts): mtype
 * halves, msqid_ds or semid_ds at C_STAT, msginfo or seminfo at C_INFO.
 *
 * Message text crosses in the staging buffer (address and size in the
 * cells): msgsnd reads its text from there, msgrcv leaves its text there.
 *
 * Completions. A call may finish calls that slept (a send hands its message
 * to a sleeping receiver, IPC_RMID fails every sleeper with EIDRM, a receive
 * lets a sender in). Each is written to the completion buffer (cells:
 * count, address; entries [token, result, mtype lo, mtype hi, text address,
 * 0, 0, 0] as i32). The host drains it after every call and zeroes the count.
 *
 * Lifetimes. A completion's text stays valid until the next call into the
 * instance; the host copies it out before making one. Memory may grow
 * during any call: the host refreshes its views after each.
 *
 * Time. Before a call that may stamp a time the host writes the current
 * wall-clock second into C_NOW; the core never calls out for the time.
 *
 * Calls:
 *   abi_version()                      ABI_VERSION, to check the host matches
 *   cells()                            address of the cells
 *   init()                             0 | -ENOMEM; first, once
 *   set_limits(msgmax, msgmnb, msgmni) 0 | -EINVAL (outside what the sysctls accept)
 *   stage_reserve(bytes)               0 | -ENOMEM; the staging buffer holds ≥ bytes
 *   proc_spawn(uid, gid, capsLo, capsHi, ngroups)  pid | -EINVAL | -ENOMEM; groups: u32 in the staging buffer
 *   proc_fork(pid)                     pid | -ESRCH | -ENOMEM
 *   proc_exit(pid)                     0 | -ESRCH; the process's sleeping calls are abandoned, never completed
 *   msgget(pid, key, msgflg)           msqid | -errno
 *   msgsnd(pid, msqid, msgsz, mtypeLo, mtypeHi, msgflg)
 *                                      0 | -errno | PENDING | NEED_STAGE (-0x10002: msgsz is more than
 *                                      the staging buffer holds; nothing happened: reserve, call again)
 *   msgrcv(pid, msqid, msgsz, msgtypLo, msgtypHi, msgflg)
 *                                      bytes | -errno | PENDING; msgsz < 0 stands for any size whose
 *                                      C long is negative, and a host clamps larger sizes to INT_MAX
 *   msgctl(pid, msqid, cmd, mask, uid, gid, mode, qbytes)
 *                                      result | -errno; IPC_SET takes the fields whose bit is in mask
 *                                      (1 uid, 2 gid, 4 mode, 8 msg_qbytes as the kernel's int)
 *   set_sem_limits(semmsl, semmns, semopm, semmni)
 *                                      0 | -EINVAL (a negative value, semmni above IPCMNI)
 *   semget(pid, key, nsems, semflg)    semid | -errno
 *   semop(pid, semid, nsops, badTimeout)
 *                                      0 | -errno | PENDING | NEED_STAGE (nsops struct sembuf
 *                                      are more than the staging buffer holds: nothing happened);
 *                                      the ops are struct sembuf (u16 num, i16 op, i16 flg) in the
 *                                      staging buffer; badTimeout 1: semtimedop's timespec is
 *                                      malformed (EINVAL in the kernel's order)
 *   semop1(pid, semid, num, op, flg)   semop of one op given as its u16/i16/i16 fields: same answers
 *   semctl(pid, semid, semnum, cmd, arg, mask, uid, gid, mode)
 *                                      result | -errno | NEED_STAGE | VALUES_MISMATCH (-0x10003:
 *                                      SETALL's count is not nsems, which is in the aux cell).
 *                                      arg: SETVAL's value or SETALL's count of u16 values staged;
 *                                      GETALL answers nsems with the u16 values staged; IPC_SET takes
 *                                      the fields whose bit is in mask (1 uid, 2 gid, 4 mode)
 *   cancel(token)                      1: the sleeping call is gone (the host answers EINTR or
 *                                      EAGAIN); 0: no such sleeping call
 *   mem_in_use()                       bytes the core has allocated (leak checks)
 *   waiters_live()                     calls asleep
 *   debug_trap(kind)                   debug builds only: traps (1 through abort, 2 unreachable)
 *
 * Every call taking a pid answers -ESRCH for a pid that is not a live process.
 */

import { ABI_VERSION, C_VERSION, cellAddr, cellsBase, flushRetired, reserveStage, retired, stage, stageBytes } from './abi';
import { EINVAL, ENOMEM, ESRCH } from './errno';
import { setMsgLimits, setSemLimits } from './limits';
import { inUse } from './mem/alloc';
import { initMsg, msgCtl, msgGet, msgRcv, msgSnd } from './msg/ops';
import { exit, fork, getProcess, spawn } from './proc/process';
import { semCtl } from './sem/ctl';
import { initSem, semGet, semOp, semOpOne } from './sem/ops';
import { byToken, cancel as cancelWaiter, initWaiters, runHead, runWoken, waiterCount } from './wait/waiters';

let ready = false;

/** Every call starts here: blocks a completion pointed at are freed now that the host has copied them. */
// @ts-ignore: decorator
@inline function enter(): void {
  if (retired != 0) flushRetired();
}

/** Every syscall ends here: sleepers it woke retry, in wake order. */
// @ts-ignore: decorator
@inline function leave(): void {
  if (runHead != 0) runWoken();
}

export function abi_version(): i32 {
  return ABI_VERSION;
}

export function cells(): usize {
  return cellsBase();
}

export function init(): i32 {
  if (ready) return 0;
  // The runtime's TLSF heap claims all memory present when it starts; make it
  // start now, so that the pages the core grows later stay the core's.
  heap.free(heap.alloc(16));
  store<i32>(cellAddr(C_VERSION), ABI_VERSION);
  initWaiters();
  if (!initMsg() || !initSem() || !reserveStage(8192)) return -ENOMEM;
  ready = true;
  return 0;
}

export function set_limits(msgmax: i32, msgmnb: i32, msgmni: i32): i32 {
  return setMsgLimits(msgmax, msgmnb, msgmni) ? 0 : -EINVAL;
}

export function stage_reserve(bytes: i32): i32 {
  enter();
  if (bytes < 0) return -EINVAL;
  return reserveStage(<usize>bytes) ? 0 : -ENOMEM;
}

export function proc_spawn(uid: u32, gid: u32, capsLo: u32, capsHi: u32, ngroups: i32): i32 {
  enter();
  if (ngroups < 0 || <usize>ngroups << 2 > stageBytes()) return -EINVAL;
  const pid = spawn(uid, gid, (<u64>capsHi << 32) | <u64>capsLo, stage(), ngroups);
  return pid == 0 ? -ENOMEM : pid;
}

export function proc_fork(pid: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  const child = fork(p);
  return child == 0 ? -ENOMEM : child;
}

export function proc_exit(pid: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  exit(p);
  return 0;
}

export function msgget(pid: i32, key: i32, msgflg: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  return msgGet(p, key, msgflg);
}

export function msgsnd(pid: i32, msqid: i32, msgsz: i32, mtypeLo: i32, mtypeHi: i32, msgflg: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  const r = msgSnd(p, msqid, msgsz, (<i64>mtypeHi << 32) | <i64><u32>mtypeLo, msgflg);
  leave();
  return r;
}

export function msgrcv(pid: i32, msqid: i32, msgsz: i32, msgtypLo: i32, msgtypHi: i32, msgflg: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  const r = msgRcv(p, msqid, msgsz, (<i64>msgtypHi << 32) | <i64><u32>msgtypLo, msgflg);
  leave();
  return r;
}

export function msgctl(pid: i32, msqid: i32, cmd: i32, mask: i32, uid: u32, gid: u32, mode: i32, qbytes: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  const r = msgCtl(p, msqid, cmd, mask, uid, gid, mode, qbytes);
  leave();
  return r;
}

export function set_sem_limits(semmsl: i32, semmns: i32, semopm: i32, semmni: i32): i32 {
  return setSemLimits(semmsl, semmns, semopm, semmni) ? 0 : -EINVAL;
}

export function semget(pid: i32, key: i32, nsems: i32, semflg: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  return semGet(p, key, nsems, semflg);
}

export function semop(pid: i32, semid: i32, nsops: i32, badTimeout: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  const r = semOp(p, semid, nsops, badTimeout);
  leave();
  return r;
}

export function semop1(pid: i32, semid: i32, num: i32, op: i32, flg: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  // the fields of struct sembuf, as C would store an int in them
  const r = semOpOne(p, semid, num & 0xffff, <i32><i16>op, <i32><i16>flg);
  leave();
  return r;
}

export function semctl(pid: i32, semid: i32, semnum: i32, cmd: i32, arg: i32, mask: i32, uid: u32, gid: u32, mode: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  const r = semCtl(p, semid, semnum, cmd, arg, mask, uid, gid, mode);
  leave();
  return r;
}

export function cancel(token: i32): i32 {
  enter();
  const w = byToken(token);
  if (w === null) return 0;
  cancelWaiter(w);
  return 1;
}

export function mem_in_use(): f64 {
  return <f64>inUse();
}

export function waiters_live(): i32 {
  return waiterCount();
}

export function debug_trap(kind: i32): void {
  if (ASC_NO_ASSERT) return;
  if (kind == 1) abort('debug_trap(1): a deliberate trap through abort');
  unreachable();
}



