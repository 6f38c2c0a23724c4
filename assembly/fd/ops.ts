/**
 * The descriptor system calls over every kind of file: close, dup, fcntl,
 * ioctl, read, write (poll: poll.ts). Each looks the descriptor up (EBADF), checks the
 * description's mode where the VFS does, and hands over to the kind (pipe
 * ends: pipe/*; sockets: sock/*).
 */

import { EBADF, EFAULT, EINVAL, ENOTTY, EPERM } from '../errno';
import { pipeGetSize, pipeSetSize } from '../pipe/ops';
import { pipeRead, pipeUnread, pipeWrite } from '../pipe/io';
import { Pipe } from '../pipe/pipe';
import { CAP_FOWNER, hasCap, Process } from '../proc/process';
import { sockFionread, sockRead, sockWrite } from '../sock/io';
import { regRead, regUnread, regWrite } from './regfile';
import { FifoNode } from '../pipe/fifo';
import {
  File, FILE_PIPE, FILE_REG, FILE_SOCK, fget, fput, FMODE_READ, FMODE_WRITE, O_APPEND, O_DIRECT, O_NOATIME, O_NONBLOCK,
} from './file';
import { fdClose, fdFile, fdGetFlags, fdInstall, fdInstallAt, fdReserveFrom, fdSetFlags, NOFILE } from './table';

export const F_DUPFD: i32 = 0;
export const F_GETFD: i32 = 1;
export const F_SETFD: i32 = 2;
export const F_GETFL: i32 = 3;
export const F_SETFL: i32 = 4;
export const F_DUPFD_CLOEXEC: i32 = 1030;
export const F_SETPIPE_SZ: i32 = 1031;
export const F_GETPIPE_SZ: i32 = 1032;
export const FIONREAD: i32 = 0x541b;
const FASYNC: i32 = 0o20000;
/** setfl()'s SETFL_MASK: what F_SETFL may change. */
const SETFL_MASK: i32 = O_APPEND | O_NONBLOCK | FASYNC | O_DIRECT | O_NOATIME;

export function sysClose(p: Process, fd: i32): i32 {
  return fdClose(p, fd);
}

const O_CLOEXEC: i32 = 0o2000000;

/**
 * dup3() (ksys_dup3): flags other than O_CLOEXEC and oldfd == newfd are
 * EINVAL, a newfd outside the table EBADF (a negative one is a huge
 * unsigned int there), then oldfd must be open (EBADF).
 */
export function sysDup3(p: Process, oldfd: i32, newfd: i32, flags: i32): i32 {
  if ((flags & ~O_CLOEXEC) != 0) return -EINVAL;
  if (oldfd == newfd) return -EINVAL;
  if (<u32>newfd >= <u32>NOFILE) return -EBADF;
  const f = fdFile(p, oldfd);
  if (f === null) return -EBADF;
  fget(f);
  const r = fdInstallAt(p, newfd, f, flags != 0);
  if (r < 0) fput(f);
  return r;
}

/** dup2(): dup3 without flags, except that oldfd == newfd answers newfd when it is open (EBADF when not). */
export function sysDup2(p: Process, oldfd: i32, newfd: i32): i32 {
  if (oldfd == newfd) return fdFile(p, oldfd) === null ? -EBADF : newfd;
  return sysDup3(p, oldfd, newfd, 0);
}

/** do_fcntl() for the commands the model has; EBADF first, unknown commands EINVAL. */
export function sysFcntl(p: Process, fd: i32, cmd: i32, arg: i32): i32 {
  const f = fdFile(p, fd);
  if (f === null) return -EBADF;
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      // f_dupfd(): the lowest free number ≥ arg; arg beyond RLIMIT_NOFILE (as an unsigned long) is EINVAL
      if (<u32>arg >= <u32>NOFILE) return -EINVAL;
      const nfd = fdReserveFrom(p, arg);
      if (nfd < 0) return nfd;
      fget(f);
      fdInstall(p, nfd, f, cmd == F_DUPFD_CLOEXEC);
      return nfd;
    }
    case F_GETFD:
      return fdGetFlags(p, fd);
    case F_SETFD:
      return fdSetFlags(p, fd, arg);
    case F_GETFL:
      return f.flags;
    case F_SETFL:
      return setfl(p, f, arg);
    case F_SETPIPE_SZ:
      return f.kind == FILE_PIPE ? pipeSetSize(p, f, arg) : -EBADF;
    case F_GETPIPE_SZ:
      return f.kind == FILE_PIPE ? pipeGetSize(f) : -EBADF;
  }
  return -EINVAL;
}

/**
 * setfl(): O_NOATIME only for the owner (or CAP_FOWNER); O_DIRECT only on a
 * pipe or FIFO (its packet mode) among the model's files; then the
 * SETFL_MASK bits are replaced, for every descriptor of this description.
 */
function setfl(p: Process, f: File, arg: i32): i32 {
  if ((arg & O_NOATIME) != 0 && (f.flags & O_NOATIME) == 0) {
    const owner = f.kind == FILE_PIPE ? changetype<Pipe>(f.obj).owner
      : f.kind == FILE_REG ? changetype<FifoNode>(f.obj).uid : p.uid;
    if (owner != p.uid && !hasCap(p, CAP_FOWNER)) return -EPERM;
  }
  if ((arg & O_DIRECT) != 0 && f.kind != FILE_PIPE) return -EINVAL;
  f.flags = (arg & SETFL_MASK) | (f.flags & ~SETFL_MASK);
  return 0;
}

/** ioctl(FIONREAD): pipe_ioctl, unix_ioctl (SIOCINQ); anything else is ENOTTY. */
export function sysIoctl(p: Process, fd: i32, request: i32): i32 {
  const f = fdFile(p, fd);
  if (f === null) return -EBADF;
  if (request != FIONREAD) return -ENOTTY;
  if (f.kind == FILE_PIPE) return pipeUnread(f);
  return f.kind == FILE_SOCK ? sockFionread(f) : regUnread(f);
}

/**
 * read(2): EBADF unless open for reading, then EFAULT for a negative count
 * (it reaches the kernel as a huge size_t, which access_ok() refuses in
 * vfs_read() before any negative-count check).
 */
export function sysRead(p: Process, fd: i32, count: i32, nonblock: bool, plan: bool): i32 {
  const f = fdFile(p, fd);
  if (f === null || (f.fmode & FMODE_READ) == 0) return -EBADF;
  if (count < 0) return -EFAULT;
  if (f.kind == FILE_PIPE) return pipeRead(p, fd, f, <u32>count, nonblock, plan);
  if (f.kind == FILE_SOCK) return sockRead(p, fd, f, <u32>count, nonblock, plan);
  return regRead(f, <u32>count, plan);
}

/** Whether `fd` is open for writing: its kind (FILE_PIPE, FILE_SOCK) or -EBADF. */
export function writable(p: Process, fd: i32): i32 {
  const f = fdFile(p, fd);
  if (f === null || (f.fmode & FMODE_WRITE) == 0) return -EBADF;
  return f.kind;
}

/** write(2) of `len` bytes at `src` (or planned: pipes only): EBADF unless open for writing. */
export function sysWrite(p: Process, fd: i32, src: usize, len: i32, nonblock: bool, plan: bool): i32 {
  const f = fdFile(p, fd);
  if (f === null || (f.fmode & FMODE_WRITE) == 0) return -EBADF;
  if (f.kind == FILE_PIPE) return pipeWrite(p, fd, f, src, <u32>len, nonblock, plan);
  if (f.kind == FILE_SOCK) return sockWrite(p, fd, f, src, <u32>len, nonblock);
  return regWrite(f, src, <u32>len);
}
