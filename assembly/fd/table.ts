/**
 * The descriptor table of a process (struct files_struct): small integers
 * naming open file descriptions, with FD_CLOEXEC per descriptor.
 *
 * Numbers are handed out lowest-free from 3, so that 0, 1 and 2 stay free as
 * a process's stdio would be (they answer EBADF here), up to RLIMIT_NOFILE
 * (1024, the soft limit a Linux login shell starts with): EMFILE beyond.
 *
 *   slots: usize[cap]   0 free | RESERVED | File address | FD_CLOEXEC (bit 0)
 *
 * RESERVED marks a number taken by an open asleep in a FIFO rendezvous:
 * do_sys_openat2 takes the number (get_unused_fd_flags) before it opens, so
 * EMFILE comes first and the number is not handed to anyone else meanwhile;
 * it names nothing until the open completes (EBADF), and fork does not copy
 * it (dup_fd copies files, and a reserved number has none yet).
 */

import { EBADF, EBUSY, EMFILE, ENOMEM } from '../errno';
import { allocZeroed, free, realloc } from '../mem/alloc';
import { Process } from '../proc/process';
import { File, fget, fput } from './file';

export const FD_CLOEXEC: i32 = 1;
/** RLIMIT_NOFILE: descriptors 0 ..= NOFILE - 1. */
export const NOFILE: i32 = 1024;
/** The lowest number handed out. */
export const FIRST_FD: i32 = 3;
const RESERVED: usize = 2;

@unmanaged
export class FdTable {
  cap: i32;
  /** Lowest slot that may be free (every slot below it is taken). */
  hint: i32;
  slots: usize;
}

// @ts-ignore: decorator
@inline function slotAt(t: FdTable, fd: i32): usize {
  return t.slots + (<usize>fd << alignof<usize>());
}

/** The process's table, made on first use; null when memory is exhausted. */
function tableOf(p: Process): FdTable | null {
  if (p.fds != 0) return changetype<FdTable>(p.fds);
  const t = changetype<FdTable>(allocZeroed(offsetof<FdTable>()));
  if (changetype<usize>(t) == 0) return null;
  t.hint = FIRST_FD;
  p.fds = changetype<usize>(t);
  return t;
}

function grow(t: FdTable, fd: i32): bool {
  let cap = t.cap == 0 ? 16 : t.cap;
  while (cap <= fd) cap <<= 1;
  if (cap > NOFILE) cap = NOFILE;
  const size = <usize>cap << alignof<usize>();
  const old = <usize>t.cap << alignof<usize>();
  const slots = realloc(t.slots, old, size, old);
  if (slots == 0) return false;
  memory.fill(slots + old, 0, size - old);
  t.slots = slots;
  t.cap = cap;
  return true;
}

/** get_unused_fd_flags(): the lowest free number, now reserved; -EMFILE or -ENOMEM. */
export function fdReserve(p: Process): i32 {
  return fdReserveFrom(p, FIRST_FD);
}

/** The lowest free number ≥ `min` (F_DUPFD), now reserved; -EMFILE or -ENOMEM. */
export function fdReserveFrom(p: Process, min: i32): i32 {
  const t = tableOf(p);
  if (t === null) return -ENOMEM;
  const fromHint = min <= t.hint;
  let fd = fromHint ? t.hint : min;
  while (fd < t.cap && load<usize>(slotAt(t, fd)) != 0) fd++;
  if (fd >= NOFILE) return -EMFILE;
  if (fd >= t.cap && !grow(t, fd)) return -ENOMEM;
  store<usize>(slotAt(t, fd), RESERVED);
  if (fromHint) t.hint = fd + 1;
  return fd;
}

/** fd_install(): a reserved number now names `f` (the table takes the caller's reference). */
export function fdInstall(p: Process, fd: i32, f: File, cloexec: bool): void {
  const t = changetype<FdTable>(p.fds);
  if (!ASC_NO_ASSERT) assert(load<usize>(slotAt(t, fd)) == RESERVED, 'installing into a slot not reserved');
  store<usize>(slotAt(t, fd), changetype<usize>(f) | (cloexec ? 1 : 0));
}

/** put_unused_fd(): gives back a reserved number. */
export function fdUnreserve(p: Process, fd: i32): void {
  const t = changetype<FdTable>(p.fds);
  if (!ASC_NO_ASSERT) assert(load<usize>(slotAt(t, fd)) == RESERVED, 'unreserving a slot not reserved');
  store<usize>(slotAt(t, fd), 0);
  if (fd < t.hint) t.hint = fd;
}

/** The description `fd` names, or null (EBADF). */
export function fdFile(p: Process, fd: i32): File | null {
  if (p.fds == 0) return null;
  const t = changetype<FdTable>(p.fds);
  if (<u32>fd >= <u32>t.cap) return null;
  const v = load<usize>(slotAt(t, fd));
  if (v <= RESERVED) return null;
  return changetype<File>(v & ~<usize>1);
}

/** F_GETFD: FD_CLOEXEC or 0; -EBADF. */
export function fdGetFlags(p: Process, fd: i32): i32 {
  if (fdFile(p, fd) === null) return -EBADF;
  return <i32>(load<usize>(slotAt(changetype<FdTable>(p.fds), fd)) & 1);
}

/** F_SETFD: only FD_CLOEXEC means anything. */
export function fdSetFlags(p: Process, fd: i32, flags: i32): i32 {
  const f = fdFile(p, fd);
  if (f === null) return -EBADF;
  store<usize>(slotAt(changetype<FdTable>(p.fds), fd), changetype<usize>(f) | <usize>(flags & FD_CLOEXEC));
  return 0;
}

/**
 * do_dup2(): `newfd` (checked below NOFILE) names `f` (the caller's
 * reference passes to the table); what it named is closed after, as
 * filp_close() runs once the new file is in place. -EBUSY when an open
 * asleep holds the number (it is reserved, not free), -ENOMEM.
 */
export function fdInstallAt(p: Process, newfd: i32, f: File, cloexec: bool): i32 {
  const t = tableOf(p);
  if (t === null) return -ENOMEM;
  if (newfd >= t.cap && !grow(t, newfd)) return -ENOMEM;
  const old = load<usize>(slotAt(t, newfd));
  if (old == RESERVED) return -EBUSY;
  store<usize>(slotAt(t, newfd), changetype<usize>(f) | (cloexec ? 1 : 0));
  if (old != 0) fput(changetype<File>(old & ~<usize>1));
  return newfd;
}

/** close(): the number is free at once; the description goes with its last reference. */
export function fdClose(p: Process, fd: i32): i32 {
  const f = fdFile(p, fd);
  if (f === null) return -EBADF;
  const t = changetype<FdTable>(p.fds);
  store<usize>(slotAt(t, fd), 0);
  if (fd < t.hint) t.hint = fd;
  fput(f);
  return 0;
}

/** dup_fd() at fork: the child names the same descriptions (a reference each). False when memory is exhausted. */
export function fdFork(parent: Process, child: Process): bool {
  if (parent.fds == 0) return true;
  const from = changetype<FdTable>(parent.fds);
  const t = tableOf(child);
  if (t === null) return false;
  if (from.cap > 0 && !grow(t, from.cap - 1)) return false;
  for (let fd = 0; fd < from.cap; fd++) {
    const v = load<usize>(slotAt(from, fd));
    if (v <= RESERVED) continue;
    fget(changetype<File>(v & ~<usize>1));
    store<usize>(slotAt(t, fd), v);
  }
  t.hint = FIRST_FD;
  return true;
}

/** exit_files(): every descriptor closed, in number order; then the table goes. */
export function fdExit(p: Process): void {
  if (p.fds == 0) return;
  const t = changetype<FdTable>(p.fds);
  for (let fd = 0; fd < t.cap; fd++) {
    const v = load<usize>(slotAt(t, fd));
    if (v <= RESERVED) continue;
    store<usize>(slotAt(t, fd), 0);
    fput(changetype<File>(v & ~<usize>1));
  }
  if (t.cap != 0) free(t.slots, <usize>t.cap << alignof<usize>());
  free(changetype<usize>(t), offsetof<FdTable>());
  p.fds = 0;
}
