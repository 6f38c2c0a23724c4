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
 *   proc_sigpipes(pid)                 the SIGPIPEs Linux would have sent it | -ESRCH
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
 *   interrupt(token, restart)          a signal whose handler runs (restart 1: SA_RESTART) for a
 *                                      sleeping call: 0 no such call; 1 gone (the host answers
 *                                      EINTR); 2 completed with what it had done (a completion is
 *                                      posted); 3 still asleep (restarted)
 *
 * Descriptors (fd/, pipe/, sock/). Paths and written bytes cross in the
 * staging buffer; read bytes come back there. Planned calls (readInto,
 * writeSync) move no bytes: the segment cells say where the host copies
 * them, and when C_COMMIT is 1 the host calls commit() after copying.
 *   set_pipe_limits(maxSize, soft, hard)  0 | -EINVAL (fs.pipe-max-size above 2^31)
 *   pipe2(pid, flags)                  read fd (write fd in C_AUX2) | -errno
 *   fd_close(pid, fd)                  0 | -EBADF
 *   fd_fcntl(pid, fd, cmd, arg)        result | -errno
 *   fd_dup2(pid, oldfd, newfd)         newfd | -errno
 *   fd_dup3(pid, oldfd, newfd, flags)  newfd | -errno
 *   fd_ioctl(pid, fd, request)         result | -errno
 *   fd_read(pid, fd, count, nonblock)  bytes (in the staging buffer) | -errno | PENDING (completes
 *                                      with a block of its bytes); count ≥ 0
 *   fd_read_plan(pid, fd, count)       bytes | -errno (never sleeps); segments
 *   fd_write(pid, fd, len, nonblock)   bytes | -errno | PENDING | NEED_STAGE; the bytes staged
 *   fd_write_plan(pid, fd, len)        bytes | -errno | NEED_COPY (-0x10004: not a pipe; stage the
 *                                      bytes and call fd_write); segments
 *   commit()                           runs the sleepers a planned call woke
 *   fd_poll(pid, fd, events, wait)     revents | -errno | PENDING (wait 1 and nothing holds)
 *   fd_poll_set(pid, n, wait)          descriptors with revents | -errno | PENDING | NEED_STAGE; n triples [fd, events,
 *                                      revents] of i32 staged, revents written there (a completion's
 *                                      ptr: n revents of i32)
 *   fifo_make(pid, len, mode, how)    0 | -errno; path (len bytes, normalized) staged; how: 1 it
 *                                      had a trailing slash, 2 its parent directory is missing,
 *                                      4 its parent is no directory (the host knows directories)
 *   fifo_unlink(pid, len, how)         0 | -errno
 *   path_stat(pid, len, how)           1 FIFO / 3 regular file (mode in C_AUX) | -errno
 *   fifo_open(pid, len, flags, how, mode)  fd | -errno | PENDING (completes with the fd); a FIFO,
 *                                      or a regular file (O_CREAT makes one with mode)
 *   socketpair(pid, domain, type, protocol)  first fd (second in C_AUX2) | -errno
 *   sock_send(pid, fd, len, flags)     bytes | -errno | PENDING | NEED_STAGE; the bytes staged
 *   sock_sendto(pid, fd, len, flags, nameLen, how)  as sock_send, with a name staged behind the bytes
 *                                      (how: the path bits, 8 abstract, 32 a name given)
 *   sock_recvfrom(pid, fd, count, flags)  as sock_recv; the sender's name behind the bytes, its length
 *                                      in C_AUX2 (a completion: behind the bytes at ptr, its length in b)
 *   sock_recv(pid, fd, count, flags)   the call's answer (bytes copied in C_AUX, the bytes in the
 *                                      staging buffer) | -errno | PENDING (completes with the
 *                                      answer, the bytes copied in a, the bytes at ptr)
 *   sock_shutdown(pid, fd, how)        0 | -errno
 *   sock_setopt(pid, fd, level, optname, value)  0 | -errno
 *   sock_getopt(pid, fd, level, optname)         value | -errno
 *   sock_socket(pid, domain, type, protocol)     fd | -errno
 *   sock_bind(pid, fd, len, how, nameLen)  0 | -errno; the path staged (as fifo_make), then the
 *                                      name as given (nameLen bytes: what getsockname answers)
 *   sock_name(pid, fd, peer)           length | -errno; getsockname (peer 0) / getpeername (1), the
 *                                      name's bytes in the staging buffer (0: unnamed)
 *   sock_listen(pid, fd, backlog)      0 | -errno
 *   sock_connect(pid, fd, len, how)    0 | -errno | PENDING (completes with 0 or -errno); path staged
 *   sock_accept(pid, fd, flags)        fd | -errno | PENDING (completes with the fd or -errno)
 *   mem_in_use()                       bytes the core has allocated (leak checks)
 *   waiters_live()                     calls asleep
 *   debug_trap(kind)                   debug builds only: traps (1 through abort, 2 unreachable)
 *
 * Every call taking a pid answers -ESRCH for a pid that is not a live process.
 */

import { ABI_VERSION, C_VERSION, cellAddr, cellsBase, flushRetired, NEED_STAGE, reserveStage, retired, stage, stageBytes } from './abi';
import { EINVAL, ENOMEM, ESRCH } from './errno';
import { File, FILE_PIPE } from './fd/file';
import { setMsgLimits, setSemLimits } from './limits';
import { inUse } from './mem/alloc';
import { initMsg, msgCtl, msgGet, msgRcv, msgSnd } from './msg/ops';
import { exit, fork, getProcess, spawn } from './proc/process';
import { semCtl } from './sem/ctl';
import { initSem, semGet, semOp, semOpOne } from './sem/ops';
import { byToken, initWaiters, interrupt as interruptWaiter, runHead, runWoken, waiterCount } from './wait/waiters';
import { C_COMMIT } from './abi';
import { fdExit, fdFork } from './fd/table';
import { sysClose, sysDup2, sysDup3, sysFcntl, sysIoctl, sysRead, sysWrite, writable } from './fd/ops';
import { initPoll, sysPoll, sysPollSet } from './fd/poll';
import { fifoMake, fifoOpen, fifoStat, fifoUnlink } from './pipe/fifo';
import { initPipes, pipe2 as pipeCreate } from './pipe/ops';
import { sockRecv, sockRecvFrom, sockSend, sockSendTo } from './sock/io';
import { checkSock, initSockets, sockGetOpt, sockSetOpt, sockShutdown, socketPair } from './sock/ops';
import { initListen, sockAccept, sockBind, sockConnect, sockListen, sockName, sockSocket } from './sock/listen';
import { fdFile } from './fd/table';
import { initRegularFiles } from './fd/regfile';
import { registerExitHook, registerForkHook } from './proc/process';
import { setPipeLimits } from './limits';

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
  initPipes();
  initSockets();
  initListen();
  initRegularFiles();
  initPoll();
  registerExitHook(fdExit);
  registerForkHook(fdFork);
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

export function proc_sigpipes(pid: i32): i32 {
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  return <i32>(p.sigpipes & 0x7fffffff);
}

export function proc_exit(pid: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  exit(p);
  leave();
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

export function interrupt(token: i32, restart: i32): i32 {
  enter();
  const w = byToken(token);
  if (w === null) return 0;
  const r = interruptWaiter(w, restart != 0);
  leave();
  return r;
}

// --- descriptors ------------------------------------------------------------

/** fd_write_plan's answer for a file whose bytes cannot be planned (a socket): stage them and call fd_write. */
const NEED_COPY: i32 = -0x10004;

/** The end of a planned call: the sleepers it woke wait until the host has copied (commit()). */
// @ts-ignore: decorator
@inline function planned(): void {
  store<i32>(cellAddr(C_COMMIT), runHead != 0 ? 1 : 0);
}

export function set_pipe_limits(maxSize: u32, soft: u32, hard: u32): i32 {
  return setPipeLimits(maxSize, soft, hard) ? 0 : -EINVAL;
}

export function pipe2(pid: i32, flags: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  return pipeCreate(p, flags);
}

export function fd_close(pid: i32, fd: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  const r = sysClose(p, fd);
  leave();
  return r;
}

export function fd_fcntl(pid: i32, fd: i32, cmd: i32, arg: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  const r = sysFcntl(p, fd, cmd, arg);
  leave();
  return r;
}

export function fd_dup2(pid: i32, oldfd: i32, newfd: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  const r = sysDup2(p, oldfd, newfd);
  leave(); // the close of what newfd named may wake the other end's sleepers
  return r;
}

export function fd_dup3(pid: i32, oldfd: i32, newfd: i32, flags: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  const r = sysDup3(p, oldfd, newfd, flags);
  leave();
  return r;
}

export function fd_ioctl(pid: i32, fd: i32, request: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  return sysIoctl(p, fd, request);
}

export function fd_read(pid: i32, fd: i32, count: i32, nonblock: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  const r = sysRead(p, fd, count, nonblock != 0, false);
  leave();
  return r;
}

export function fd_read_plan(pid: i32, fd: i32, count: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  const r = sysRead(p, fd, count, true, true);
  planned();
  return r;
}

export function fd_write(pid: i32, fd: i32, len: i32, nonblock: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  const ok = writable(p, fd);
  if (ok < 0) return ok;
  if (len < 0) return -EINVAL;
  if (<usize>len > stageBytes()) return NEED_STAGE;
  const r = sysWrite(p, fd, stage(), len, nonblock != 0, false);
  leave();
  return r;
}

export function fd_write_plan(pid: i32, fd: i32, len: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  const ok = writable(p, fd);
  if (ok != FILE_PIPE) return ok < 0 ? ok : NEED_COPY;
  if (len < 0) return -EINVAL;
  const r = sysWrite(p, fd, 0, len, true, true);
  planned();
  return r;
}

export function commit(): void {
  leave();
}

export function fd_poll(pid: i32, fd: i32, events: i32, wait: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  return sysPoll(p, fd, events, wait != 0);
}

export function fd_poll_set(pid: i32, n: i32, wait: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  return sysPollSet(p, n, wait != 0);
}

export function fifo_make(pid: i32, len: i32, mode: i32, how: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  if (len < 0 || <usize>len > stageBytes()) return -EINVAL;
  return fifoMake(p, len, mode, how);
}

export function fifo_unlink(pid: i32, len: i32, how: i32): i32 {
  enter();
  if (getProcess(pid) === null) return -ESRCH;
  if (len < 0 || <usize>len > stageBytes()) return -EINVAL;
  return fifoUnlink(len, how);
}

export function path_stat(pid: i32, len: i32, how: i32): i32 {
  enter();
  if (getProcess(pid) === null) return -ESRCH;
  if (len < 0 || <usize>len > stageBytes()) return -EINVAL;
  return fifoStat(len, how);
}

export function fifo_open(pid: i32, len: i32, flags: i32, how: i32, mode: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  if (len < 0 || <usize>len > stageBytes()) return -EINVAL;
  const r = fifoOpen(p, len, flags, how, mode);
  leave();
  return r;
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




export function socketpair(pid: i32, domain: i32, type: i32, protocol: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  return socketPair(p, domain, type, protocol);
}

export function sock_send(pid: i32, fd: i32, len: i32, flags: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  const ok = checkSock(p, fd);
  if (ok < 0) return ok;
  if (len < 0) return -EINVAL;
  if (<usize>len > stageBytes()) return NEED_STAGE;
  const r = sockSend(p, fd, changetype<File>(fdFile(p, fd)), stage(), len, flags);
  leave();
  return r;
}

export function sock_sendto(pid: i32, fd: i32, len: i32, flags: i32, nameLen: i32, how: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  const ok = checkSock(p, fd);
  if (ok < 0) return ok;
  if (len < 0 || nameLen < 0) return -EINVAL;
  if (<usize>len + <usize>nameLen > stageBytes()) return NEED_STAGE;
  const r = sockSendTo(p, fd, changetype<File>(fdFile(p, fd)), stage(), len, flags, stage() + <usize>len, nameLen, how);
  leave();
  return r;
}

export function sock_recvfrom(pid: i32, fd: i32, count: i32, flags: i32): i32 {
  return recvOn(pid, fd, count, flags, true);
}

export function sock_recv(pid: i32, fd: i32, count: i32, flags: i32): i32 {
  return recvOn(pid, fd, count, flags, false);
}

function recvOn(pid: i32, fd: i32, count: i32, flags: i32, from: bool): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  const ok = checkSock(p, fd);
  if (ok < 0) return ok;
  if (count < 0) return -EINVAL;
  const f = changetype<File>(fdFile(p, fd));
  const r = from ? sockRecvFrom(p, fd, f, count, flags) : sockRecv(p, fd, f, count, flags, false);
  leave();
  return r;
}

export function sock_shutdown(pid: i32, fd: i32, how: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  const r = sockShutdown(p, fd, how);
  leave();
  return r;
}

export function sock_setopt(pid: i32, fd: i32, level: i32, optname: i32, value: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  const r = sockSetOpt(p, fd, level, optname, value);
  leave();
  return r;
}

export function sock_getopt(pid: i32, fd: i32, level: i32, optname: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  return sockGetOpt(p, fd, level, optname);
}

export function sock_socket(pid: i32, domain: i32, type: i32, protocol: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  return sockSocket(p, domain, type, protocol);
}

export function sock_bind(pid: i32, fd: i32, len: i32, how: i32, nameLen: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  if (len < 0 || nameLen < 0 || <usize>len + <usize>nameLen > stageBytes()) return -EINVAL;
  return sockBind(p, fd, len, how, nameLen);
}

export function sock_name(pid: i32, fd: i32, peer: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  return sockName(p, fd, peer != 0);
}

export function sock_listen(pid: i32, fd: i32, backlog: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  const r = sockListen(p, fd, backlog);
  leave();
  return r;
}

export function sock_connect(pid: i32, fd: i32, len: i32, how: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  if (len < 0 || <usize>len > stageBytes()) return -EINVAL;
  const r = sockConnect(p, fd, len, how);
  leave();
  return r;
}

export function sock_accept(pid: i32, fd: i32, flags: i32): i32 {
  enter();
  const p = getProcess(pid);
  if (p === null) return -ESRCH;
  const r = sockAccept(p, fd, flags);
  leave();
  return r;
}
