/**
 * Open file descriptions (struct file): what a descriptor points at. Several
 * descriptors (dup'ed in one table, or copied by fork) share one, and with it
 * the status flags F_SETFL changes (O_NONBLOCK, O_DIRECT, O_APPEND).
 *
 *   File = refs (descriptors + calls in flight that hold it, as fdget does)
 *        + kind (pipe end, socket, regular file) + f_flags + f_mode + the object
 *
 * A call that sleeps holds a reference, so closing the descriptor under it
 * (another thread's close) leaves the call running, as in Linux; the last
 * reference runs the kind's release (pipe_release, unix_release).
 */

import { alloc, free } from '../mem/alloc';

export const FILE_PIPE: i32 = 0;
export const FILE_SOCK: i32 = 1;
export const FILE_REG: i32 = 2;
const KINDS: i32 = 3;

/** f_mode bits. */
export const FMODE_READ: i32 = 1;
export const FMODE_WRITE: i32 = 2;

// f_flags (include/uapi/asm-generic/fcntl.h)
export const O_ACCMODE: i32 = 3;
export const O_RDONLY: i32 = 0;
export const O_WRONLY: i32 = 1;
export const O_RDWR: i32 = 2;
export const O_CREAT: i32 = 0o100;
export const O_EXCL: i32 = 0o200;
export const O_NOCTTY: i32 = 0o400;
export const O_TRUNC: i32 = 0o1000;
export const O_APPEND: i32 = 0o2000;
export const O_NONBLOCK: i32 = 0o4000;
export const O_DSYNC: i32 = 0o10000;
export const O_DIRECT: i32 = 0o40000;
export const O_LARGEFILE: i32 = 0o100000;
export const O_DIRECTORY: i32 = 0o200000;
export const O_NOFOLLOW: i32 = 0o400000;
export const O_NOATIME: i32 = 0o1000000;
export const O_CLOEXEC: i32 = 0o2000000;
/** O_NOTIFICATION_PIPE: pipe2's name for O_EXCL. */
export const O_NOTIFICATION_PIPE: i32 = O_EXCL;

@unmanaged
export class File {
  refs: i32;
  kind: i32;
  /** f_flags: the access mode and the status flags F_GETFL reports. */
  flags: i32;
  /** FMODE_READ | FMODE_WRITE. */
  fmode: i32;
  /** The Pipe or Sock. */
  obj: usize;
  /** f_pipe: the w_counter a non-blocking FIFO reader saw at open (fs/pipe.c: pipe_poll's EPOLLHUP test). */
  fpipe: u32;
  /** f_pos of a regular file. */
  pos: u32;
}

export type FileRelease = (f: File) => void;

const releaseHooks = memory.data(KINDS * sizeof<usize>(), sizeof<usize>());

/** Each kind registers its release once, at init. */
export function registerFileKind(kind: i32, release: FileRelease): void {
  store<usize>(releaseHooks + <usize>kind * sizeof<usize>(), changetype<usize>(release));
}

/** A new description with one reference, or null when memory is exhausted. */
export function newFile(kind: i32, flags: i32, fmode: i32, obj: usize): File | null {
  const f = changetype<File>(alloc(offsetof<File>()));
  if (changetype<usize>(f) == 0) return null;
  f.refs = 1;
  f.kind = kind;
  f.flags = flags;
  f.fmode = fmode;
  f.obj = obj;
  f.fpipe = 0;
  f.pos = 0;
  return f;
}

/** Frees a description that was never installed (its object is released by the caller). */
export function discardFile(f: File): void {
  free(changetype<usize>(f), offsetof<File>());
}

// @ts-ignore: decorator
@inline export function fget(f: File): void {
  f.refs++;
}

/** fput(): the last reference releases the object (its wake-ups go on the run queue) and frees the description. */
export function fput(f: File): void {
  if (--f.refs != 0) return;
  changetype<FileRelease>(load<usize>(releaseHooks + <usize>f.kind * sizeof<usize>()))(f);
  free(changetype<usize>(f), offsetof<File>());
}
