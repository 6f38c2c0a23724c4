/**
 * FIFOs: a small namespace of paths per kernel (mkfifo, unlink, stat) and
 * the open rendezvous of fs/pipe.c: fifo_open(), wait_for_partner(),
 * put_pipe_info(). The namespace also holds the regular files open(O_CREAT)
 * makes, in memory (fd/regfile.ts reads and writes them), so that a program
 * may keep a plain file beside its FIFOs.
 *
 * Paths arrive normalized by the host (absolute, no "." or "..", no repeated
 * or trailing slash; `how` says whether the caller wrote a trailing one, and
 * what the host knows of the parent directory).
 *
 * Directories are not modelled: the host
 * says whether a path's parent exists (PARENT_MISSING: ENOENT) or is no
 * directory (PARENT_NOTDIR: ENOTDIR), and every directory that exists is
 * taken as FORMAT.md's run directory is made: mode 0777, not sticky, so
 * everyone may search it and make and remove names in it. A FIFO used as a
 * directory is ENOTDIR.
 *
 *   FifoNode = the name's bytes, kind, mode, owner, whether the name is still
 *              linked; a FIFO's pipe while any file has it open (i_pipe); a
 *              regular file's bytes and its open files
 */

import { C_AUX, C_TOKEN, cellAddr, stage } from '../abi';
import { EACCES, EADDRINUSE, ECONNREFUSED, EEXIST, EINVAL, ENOENT, ENOMEM, ENOTDIR, ENXIO, EPERM } from '../errno';
import {
  discardFile, File, FILE_PIPE, FILE_REG, FMODE_READ, FMODE_WRITE, newFile, O_ACCMODE, O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECT,
  O_DIRECTORY, O_DSYNC, O_EXCL, O_LARGEFILE, O_NOATIME, O_NOCTTY, O_NOFOLLOW, O_NONBLOCK, O_TRUNC,
} from '../fd/file';
import { fdInstall, fdReserve, fdUnreserve } from '../fd/table';
import { alloc, free } from '../mem/alloc';
import { CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, hasCap, inGroup, Process } from '../proc/process';
import {
  complete, INTR_CANCELLED, INTR_SLEEPING, listAppend, park, PENDING, registerKind, setInterruptHook, Waiter, cancel,
} from '../wait/waiters';
import { freePipe, newPipe, openersList, Pipe, wakeOneWriter, wakePartner } from './pipe';

const UMASK: u32 = 0o022;
const MAY_WRITE: u32 = 2;
const MAY_READ: u32 = 4;

/** stat()'s answers: the type (the mode is in C_AUX). */
export const STAT_FIFO: i32 = 1;
export const STAT_SOCK: i32 = 2;
export const STAT_REG: i32 = 3;

/** The open flags Linux keeps (VALID_OPEN_FLAGS, less O_PATH and O_TMPFILE, which the model has no use for). */
const KEPT_FLAGS: i32 = O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC | 0o20000
  | O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC | 0o4000000;

export const NODE_FIFO: i32 = 1;
export const NODE_SOCK: i32 = 2;
export const NODE_REG: i32 = 3;

@unmanaged
export class FifoNode {
  next: usize;
  name: usize;
  len: u32;
  kind: i32;
  mode: u32;
  uid: u32;
  gid: u32;
  /** inode->i_pipe: the pipe while some file has the FIFO open, else 0. */
  pipe: usize;
  linked: bool;
  /** A regular file: its bytes (cap of them allocated), its size, its open files. */
  data: usize;
  cap: u32;
  size: u32;
  opens: i32;
  /** A socket file: the socket bound to it while it is open, else 0 (the name then refuses connections). */
  sock: usize;
}

let names: usize = 0;

/** Whether `node`'s name equals the path in the staging buffer. */
function sameName(node: FifoNode, path: usize, len: u32): bool {
  return node.len == len && memory.compare(node.name, path, <usize>len) == 0;
}

/** Why the last lookup() found nothing: ENOENT, or ENOTDIR when a node stands where a directory should. */
let lookupError: i32 = 0;

function lookup(path: usize, len: u32): FifoNode | null {
  lookupError = 0;
  let cur = names;
  while (cur != 0) {
    const node = changetype<FifoNode>(cur);
    cur = node.next;
    if (sameName(node, path, len)) return node;
    // a FIFO that is a proper prefix of the path, followed by '/'
    if (node.len < len && load<u8>(path + node.len) == 0x2f && memory.compare(node.name, path, <usize>node.len) == 0) {
      lookupError = ENOTDIR;
      return null;
    }
  }
  lookupError = ENOENT;
  return null;
}

/** What the host says of a path (the `how` of every call here). */
export const TRAILING_SLASH: i32 = 1;
export const PARENT_MISSING: i32 = 2;
export const PARENT_NOTDIR: i32 = 4;

/** The error a path's parent gives (after a FIFO prefix, which lookup() reports), or 0. */
// @ts-ignore: decorator
@inline function parentError(how: i32): i32 {
  return (how & PARENT_NOTDIR) != 0 ? ENOTDIR : (how & PARENT_MISSING) != 0 ? ENOENT : 0;
}

function unlinkNode(node: FifoNode): void {
  let prev: usize = 0;
  let cur = names;
  while (cur != changetype<usize>(node)) {
    prev = cur;
    cur = changetype<FifoNode>(cur).next;
  }
  if (prev == 0) names = node.next;
  else changetype<FifoNode>(prev).next = node.next;
  node.linked = false;
  node.next = 0;
}

function freeNode(node: FifoNode): void {
  if (node.data != 0) free(node.data, <usize>node.cap);
  free(node.name, <usize>node.len);
  free(changetype<usize>(node), offsetof<FifoNode>());
}

/** Whether nothing holds the node any more (no name, no open file, no pipe). */
// @ts-ignore: decorator
@inline function unused(node: FifoNode): bool {
  return !node.linked && node.pipe == 0 && node.opens == 0 && node.sock == 0;
}

/** A regular file's open file is gone (fd/regfile.ts): the node goes with the last one once unlinked. */
export function regClosed(node: FifoNode): void {
  node.opens--;
  if (unused(node)) freeNode(node);
}

/** A new linked node for the path in the staging buffer, or null when memory is exhausted. */
function newNode(p: Process, len: u32, kind: i32, mode: u32): FifoNode | null {
  const node = changetype<FifoNode>(alloc(offsetof<FifoNode>()));
  const name = alloc(<usize>len);
  if (changetype<usize>(node) == 0 || name == 0) {
    if (changetype<usize>(node) != 0) free(changetype<usize>(node), offsetof<FifoNode>());
    if (name != 0) free(name, <usize>len);
    return null;
  }
  memory.copy(name, stage(), <usize>len);
  node.name = name;
  node.len = len;
  node.kind = kind;
  node.mode = mode & 0o7777 & ~UMASK;
  node.uid = p.uid;
  node.gid = p.gid;
  node.pipe = 0;
  node.linked = true;
  node.data = 0;
  node.cap = 0;
  node.size = 0;
  node.opens = 0;
  node.sock = 0;
  node.next = names;
  names = changetype<usize>(node);
  return node;
}

/** mknod(S_IFIFO): the mode less the umask (022); ENOTDIR, EEXIST, ENOENT (trailing slash), ENOMEM. */
export function fifoMake(p: Process, len: u32, mode: u32, how: i32): i32 {
  const path = stage();
  if (len == 0) return -ENOENT;
  if (len == 1) return -EEXIST; // "/" exists
  const found = lookup(path, len);
  if (lookupError == ENOTDIR) return -ENOTDIR;
  if (found !== null) return -EEXIST;
  const parent = parentError(how);
  if (parent != 0) return -parent;
  if ((how & TRAILING_SLASH) != 0) return -ENOENT;
  return newNode(p, len, NODE_FIFO, mode) === null ? -ENOMEM : 0;
}

/** unlink(): the name goes; a FIFO still open lives on until its last close. */
export function fifoUnlink(len: u32, how: i32): i32 {
  if (len == 0) return -ENOENT;
  const node = lookup(stage(), len);
  if (node === null) return lookupError == ENOTDIR ? -ENOTDIR : -(parentError(how) || ENOENT);
  if ((how & TRAILING_SLASH) != 0) return -ENOTDIR;
  unlinkNode(node);
  if (unused(node)) freeNode(node);
  return 0;
}

/** stat(): STAT_FIFO or STAT_REG, the permission bits in C_AUX (a name that is neither: ENOENT; the host knows its directories). */
export function fifoStat(len: u32, how: i32): i32 {
  const path = stage();
  if (len == 0) return -ENOENT;
  const node = lookup(path, len);
  if (node === null) return lookupError == ENOTDIR ? -ENOTDIR : -(parentError(how) || ENOENT);
  if ((how & TRAILING_SLASH) != 0) return -ENOTDIR;
  store<i32>(cellAddr(C_AUX), <i32>node.mode);
  return node.kind == NODE_FIFO ? STAT_FIFO : node.kind == NODE_SOCK ? STAT_SOCK : STAT_REG;
}

// --- socket files ---------------------------------------------------------

/** The socket bound to `node` is gone (unix_release_sock): the name stays, refusing connections, until unlinked. */
export function sockUnbound(node: usize): void {
  const n = changetype<FifoNode>(node);
  n.sock = 0;
  if (unused(n)) freeNode(n);
}

/**
 * unix_bind_bsd()'s mknod of a socket file for the staged path, mode 0777
 * less the umask: EADDRINUSE when the name exists (mknod's EEXIST), ENOENT /
 * ENOTDIR as for mkfifo. `bound`: the socket already has a name, so the
 * node is made and removed again (EINVAL), as unix_bind_bsd's out_unlink.
 * Answers the node's address, or -errno.
 */
export function sockBindNode(p: Process, len: u32, how: i32, sock: usize, bound: bool): isize {
  const r = fifoMake(p, len, 0o777, how);
  if (r < 0) return r == -EEXIST ? -EADDRINUSE : r;
  const node = changetype<FifoNode>(names); // newNode() put it first
  if (bound) {
    unlinkNode(node);
    freeNode(node);
    return -EINVAL;
  }
  node.kind = NODE_SOCK;
  node.sock = sock;
  return changetype<isize>(node);
}

/**
 * unix_find_bsd(): the socket bound to the path at `path` (len bytes):
 * the lookup's errors (ENOENT, ENOTDIR), write permission on the socket
 * file (EACCES), ECONNREFUSED when the name is no socket file or its socket
 * has closed. The caller checks the socket's type (EPROTOTYPE). Answers the
 * socket's address, or -errno.
 */
export function sockFind(p: Process, path: usize, len: u32, how: i32): isize {
  if (len == 0) return -ENOENT;
  const node = lookup(path, len);
  if (node === null) return lookupError == ENOTDIR ? -ENOTDIR : -(parentError(how) || ENOENT);
  if ((how & TRAILING_SLASH) != 0) return -ENOTDIR;
  if (!permitted(p, node, MAY_WRITE)) return -EACCES;
  if (node.kind != NODE_SOCK || node.sock == 0) return -ECONNREFUSED;
  return changetype<isize>(node.sock);
}

/** generic_permission() for a FIFO: the owner's, the group's or the others' bits; CAP_DAC_OVERRIDE passes, CAP_DAC_READ_SEARCH passes a read. */
function permitted(p: Process, node: FifoNode, mask: u32): bool {
  let bits = node.mode;
  if (p.uid == node.uid) bits >>= 6;
  else if (inGroup(p, node.gid)) bits >>= 3;
  if ((mask & ~bits & 7) == 0) return true;
  if (hasCap(p, CAP_DAC_OVERRIDE)) return true;
  return (mask & MAY_WRITE) == 0 && hasCap(p, CAP_DAC_READ_SEARCH);
}

// --- open -----------------------------------------------------------------

let openKind: i32 = -1;

export function initFifo(): void {
  openKind = registerKind(retryOpen, releaseOpen);
  setInterruptHook(openKind, interruptOpen);
}

/** put_pipe_info(): one file fewer; the last one frees the pipe, and the node too once unlinked. */
export function putPipe(pp: Pipe): void {
  if (--pp.files != 0) return;
  if (pp.fifo != 0) {
    const node = changetype<FifoNode>(pp.fifo);
    node.pipe = 0;
    if (unused(node)) freeNode(node);
  }
  freePipe(pp);
}

/**
 * open(2) of a FIFO, in do_sys_openat2's order: the descriptor number
 * (EMFILE), the lookup (ENOENT, ENOTDIR; O_CREAT|O_EXCL: EEXIST), may_open
 * (EACCES by the mode bits for the access asked, O_TRUNC asking for write;
 * O_NOATIME: EPERM unless owner), then fifo_open: a blocking O_RDONLY waits
 * for a writer and O_WRONLY for a reader (PENDING); O_RDONLY|O_NONBLOCK
 * opens at once; O_WRONLY|O_NONBLOCK without a reader is ENXIO; O_RDWR never
 * waits. F_GETFL shows O_LARGEFILE and not O_CREAT, O_EXCL, O_NOCTTY,
 * O_TRUNC or O_CLOEXEC (O_TRUNC does nothing to a FIFO).
 */
/** open(O_CREAT)'s mode for a new regular file (set by the caller before fifoOpen). */
let createMode: i32 = 0;

export function fifoOpen(p: Process, len: u32, flags: i32, how: i32, mode: i32): i32 {
  createMode = mode;
  const fd = fdReserve(p);
  if (fd < 0) return fd;
  const r = openReserved(p, fd, len, flags, how);
  if (r < 0 && r != PENDING) fdUnreserve(p, fd);
  return r;
}

function openReserved(p: Process, fd: i32, len: u32, flags: i32, how: i32): i32 {
  if (len == 0) return -ENOENT;
  const found = lookup(stage(), len);
  let created = false;
  let node: FifoNode;
  if (found === null) {
    if (lookupError == ENOTDIR) return -ENOTDIR;
    const parent = parentError(how);
    if (parent != 0) return -parent;
    if ((flags & O_CREAT) == 0 || (how & TRAILING_SLASH) != 0) return -ENOENT;
    // a new regular file: its creator opens it whatever its mode, and nothing to truncate
    const made = newNode(p, len, NODE_REG, <u32>createMode);
    if (made === null) return -ENOMEM;
    node = made;
    created = true;
  } else {
    node = changetype<FifoNode>(found);
    if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)) return -EEXIST;
    if ((how & TRAILING_SLASH) != 0 || (flags & O_DIRECTORY) != 0) return -ENOTDIR;
  }
  const acc = flags & O_ACCMODE;
  if (!created) {
    let mask: u32 = acc == 0 ? MAY_READ : acc == 1 ? MAY_WRITE : MAY_READ | MAY_WRITE;
    if ((flags & O_TRUNC) != 0) mask |= MAY_WRITE;
    if (!permitted(p, node, mask)) return -EACCES;
    if ((flags & O_NOATIME) != 0 && p.uid != node.uid && !hasCap(p, CAP_FOWNER)) return -EPERM;
  }
  // a socket file has no open (no_open())
  if (node.kind == NODE_SOCK) return -ENXIO;
  const fflags = (flags & KEPT_FLAGS & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC)) | O_LARGEFILE;
  if (node.kind == NODE_REG) {
    const f = newFile(FILE_REG, fflags, (acc + 1) & O_ACCMODE, changetype<usize>(node));
    if (f === null) {
      if (created) {
        unlinkNode(node);
        freeNode(node);
      }
      return -ENOMEM;
    }
    // handle_truncate(): O_TRUNC empties an existing file opened for writing (permission was checked)
    if (!created && (flags & O_TRUNC) != 0) node.size = 0;
    node.opens++;
    fdInstall(p, fd, f, (flags & O_CLOEXEC) != 0);
    return fd;
  }
  const fmode = (acc + 1) & O_ACCMODE; // OPEN_FMODE()
  let pp: Pipe;
  if (node.pipe != 0) {
    pp = changetype<Pipe>(node.pipe);
  } else {
    const made = newPipe(p);
    if (made === null) return -ENOMEM;
    pp = made;
    pp.fifo = changetype<usize>(node);
    node.pipe = changetype<usize>(pp);
  }
  pp.files++;
  const f = newFile(FILE_PIPE, fflags, fmode, changetype<usize>(pp));
  if (f === null) {
    putPipe(pp);
    return -ENOMEM;
  }
  const nonblock = (flags & O_NONBLOCK) != 0;
  const cloexec = (flags & O_CLOEXEC) != 0;
  if (fmode == FMODE_READ) {
    pp.rCounter++;
    if (pp.readers++ == 0) wakePartner(pp);
    if (pp.writers == 0) {
      if (nonblock) f.fpipe = pp.wCounter; // no EPOLLHUP until a writer has come
      else return sleepOpen(p, f, pp, fd, cloexec, 0);
    }
  } else if (fmode == FMODE_WRITE) {
    if (nonblock && pp.readers == 0) {
      discardFile(f);
      putPipe(pp);
      return -ENXIO;
    }
    pp.wCounter++;
    if (pp.writers++ == 0) wakePartner(pp);
    if (pp.readers == 0) return sleepOpen(p, f, pp, fd, cloexec, 1);
  } else if (fmode == (FMODE_READ | FMODE_WRITE)) {
    pp.readers++;
    pp.writers++;
    pp.rCounter++;
    pp.wCounter++;
    if (pp.readers == 1 || pp.writers == 1) wakePartner(pp);
  } else {
    discardFile(f);
    putPipe(pp);
    return -EINVAL;
  }
  fdInstall(p, fd, f, cloexec);
  return fd;
}

/** wait_for_partner(): sleeps until the partner's counter moves (arg2: 0 = w_counter, 1 = r_counter). */
function sleepOpen(p: Process, f: File, pp: Pipe, fd: i32, cloexec: bool, which: i32): i32 {
  const w = park(openKind, p, openersList(pp), changetype<usize>(pp));
  if (w === null) {
    openUndo(f, pp, which);
    return -ENOMEM;
  }
  w.block = changetype<usize>(f);
  w.arg0 = <i64>(which == 0 ? pp.wCounter : pp.rCounter);
  w.arg1 = cloexec ? 1 : 0;
  w.arg2 = which;
  w.arg3 = fd;
  store<i32>(cellAddr(C_TOKEN), w.token);
  return PENDING;
}

/** fifo_open's err_rd / err_wr: the opener leaves, waking the other side if it was the last. */
function openUndo(f: File, pp: Pipe, which: i32): void {
  if (which == 0) {
    if (--pp.readers == 0) wakeOneWriter(pp);
  } else {
    if (--pp.writers == 0) wakePartner(pp);
  }
  discardFile(f);
  putPipe(pp);
}

function retryOpen(w: Waiter): void {
  const pp = changetype<Pipe>(w.obj);
  const now = w.arg2 == 0 ? pp.wCounter : pp.rCounter;
  if (<i64>now == w.arg0) {
    listAppend(openersList(pp), w);
    return;
  }
  const f = changetype<File>(w.block);
  w.block = 0;
  fdInstall(changetype<Process>(w.proc), w.arg3, f, w.arg1 != 0);
  complete(w, w.arg3, 0, 0, 0);
}

/** An open that never completed (signal, exit): undone, its number given back. */
function releaseOpen(w: Waiter): void {
  fdUnreserve(changetype<Process>(w.proc), w.arg3);
  openUndo(changetype<File>(w.block), changetype<Pipe>(w.obj), w.arg2);
}

/** A signal: EINTR, or with SA_RESTART the open goes on waiting (its restart would wait the same way). */
function interruptOpen(w: Waiter, restart: bool): i32 {
  if (restart) return INTR_SLEEPING;
  cancel(w);
  return INTR_CANCELLED;
}
