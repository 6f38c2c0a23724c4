/**
 * The pipe object (struct pipe_inode_info): a ring of page slots, as
 * fs/pipe.c keeps it, shared by anonymous pipes and FIFOs.
 *
 *   Pipe = head, tail        free-running slot counters (occupancy = head - tail)
 *        + maxUsage          slots (a power of two; 16 by default): capacity is
 *                            counted in slots, never in bytes
 *        + ring              PipeBuf[maxUsage]: offset, len, flags of each slot
 *        + pages             maxUsage pages of 4 KiB, slot i's page at pages + i * 4096
 *        + readers, writers, files, r_counter, w_counter
 *        + wait lists        readers (rd_wait), writers (wr_wait), FIFO openers, pollers
 *
 * The pages are one block of linear memory made on the first write, so that
 * consecutive full slots are consecutive bytes: a 64 KiB write or read is one
 * copy (the host copies straight between its buffer and these pages). Which
 * page a slot uses is invisible to a program; only the slot rules are.
 *
 * Each user's pipe pages are counted (account_pipe_buffers) against
 * fs.pipe-user-pages-soft / -hard.
 */

import { EBUSY, EINVAL, ENFILE, ENOMEM, EPERM } from '../errno';
import {
  PAGE_SHIFT, PAGE_SIZE, PIPE_DEF_BUFFERS, PIPE_MIN_DEF_BUFFERS, pipeMaxSize, pipeUserPagesHard, pipeUserPagesSoft, roundPipeSize,
} from '../limits';
import { alloc, allocZeroed, free } from '../mem/alloc';
import { CAP_SYS_ADMIN, CAP_SYS_RESOURCE, hasCap, Process } from '../proc/process';
import { HashMap, mapDelete, mapGet, mapInit, mapInsert, mapReserve } from '../util/hashmap';
import { listInit, listRemove, wake, Waiter, WaitList } from '../wait/waiters';

/** PipeBuf.flags (include/linux/pipe_fs_i.h). */
export const PIPE_BUF_FLAG_PACKET: u32 = 0x08;
export const PIPE_BUF_FLAG_CAN_MERGE: u32 = 0x10;

@unmanaged
export class PipeBuf {
  offset: u32;
  len: u32;
  flags: u32;
  pad: u32;
}

@unmanaged
export class Pipe {
  head: u32;
  tail: u32;
  maxUsage: u32;
  /** Unread bytes in all slots (FIONREAD). */
  bytes: u32;
  ring: usize;
  /** maxUsage pages, or 0 before the first write. */
  pages: usize;
  readers: i32;
  writers: i32;
  /** Open descriptions (and FIFO opens in progress) using the pipe: it is freed at 0. */
  files: i32;
  rCounter: u32;
  wCounter: u32;
  nrAccounted: u32;
  /** The user whose pages these are. */
  user: u32;
  /** i_uid of the pipe's inode (the creator's fsuid): O_NOATIME's owner test. */
  owner: u32;
  /** Someone polled it (pipe->poll_usage): every write then wakes a reader. */
  pollUsage: bool;
  /** The FIFO's namespace node, or 0 for an anonymous pipe. */
  fifo: usize;
  rdHead: usize;
  rdTail: usize;
  wrHead: usize;
  wrTail: usize;
  opHead: usize;
  opTail: usize;
  pollHead: usize;
  pollTail: usize;
}

// @ts-ignore: decorator
@inline export function readersList(pp: Pipe): WaitList {
  return changetype<WaitList>(changetype<usize>(pp) + offsetof<Pipe>('rdHead'));
}
// @ts-ignore: decorator
@inline export function writersList(pp: Pipe): WaitList {
  return changetype<WaitList>(changetype<usize>(pp) + offsetof<Pipe>('wrHead'));
}
// @ts-ignore: decorator
@inline export function openersList(pp: Pipe): WaitList {
  return changetype<WaitList>(changetype<usize>(pp) + offsetof<Pipe>('opHead'));
}
// @ts-ignore: decorator
@inline export function pollersList(pp: Pipe): WaitList {
  return changetype<WaitList>(changetype<usize>(pp) + offsetof<Pipe>('pollHead'));
}

// @ts-ignore: decorator
@inline export function bufAt(pp: Pipe, index: u32): PipeBuf {
  return changetype<PipeBuf>(pp.ring + (<usize>(index & (pp.maxUsage - 1)) << 4));
}

/** The page of the slot `index` names. */
// @ts-ignore: decorator
@inline export function pageAt(pp: Pipe, index: u32): usize {
  return pp.pages + (<usize>(index & (pp.maxUsage - 1)) << PAGE_SHIFT);
}

// @ts-ignore: decorator
@inline export function pipeEmpty(pp: Pipe): bool {
  return pp.head == pp.tail;
}

/** pipe_full(): occupancy has reached the slot limit. */
// @ts-ignore: decorator
@inline export function pipeFull(pp: Pipe): bool {
  return pp.head - pp.tail >= pp.maxUsage;
}

// --- per-user accounting --------------------------------------------------

const userPages = changetype<HashMap>(memory.data(offsetof<HashMap>(), 8));
mapInit(userPages);

/** account_pipe_buffers(): moves a pipe's count from `old` to `now` pages; the user's new total, or -1 when memory is exhausted (nothing changed). */
function account(uid: u32, old: u32, now: u32): i64 {
  const had = <u32>mapGet(userPages, <i64>uid);
  const total = had - old + now;
  if (total == had) return <i64>total;
  if (had == 0) {
    if (!mapReserve(userPages)) return -1;
    mapInsert(userPages, <i64>uid, <usize>total);
    return <i64>total;
  }
  mapDelete(userPages, <i64>uid);
  if (total != 0) mapInsert(userPages, <i64>uid, <usize>total); // the slot just freed holds it
  return <i64>total;
}

/** pipe_is_unprivileged_user(). */
// @ts-ignore: decorator
@inline export function unprivileged(p: Process): bool {
  return !hasCap(p, CAP_SYS_RESOURCE) && !hasCap(p, CAP_SYS_ADMIN);
}

// @ts-ignore: decorator
@inline export function tooManySoft(pages: i64): bool {
  return pipeUserPagesSoft != 0 && pages > <i64>pipeUserPagesSoft;
}

// @ts-ignore: decorator
@inline export function tooManyHard(pages: i64): bool {
  return pipeUserPagesHard != 0 && pages > <i64>pipeUserPagesHard;
}

/** Error of the last newPipe() that answered null. */
export let newPipeError: i32 = 0;

/**
 * alloc_pipe_info(): 16 slots, fewer where pipe-max-size is smaller (without
 * CAP_SYS_RESOURCE), 2 once an unprivileged user is over the soft limit;
 * over the hard limit no pipe (ENFILE, as get_pipe_inode answers). Counters,
 * readers and writers start at 0: the caller sets them.
 */
export function newPipe(p: Process): Pipe | null {
  let slots = PIPE_DEF_BUFFERS;
  if (slots * PAGE_SIZE > pipeMaxSize && !hasCap(p, CAP_SYS_RESOURCE)) slots = pipeMaxSize >> PAGE_SHIFT;
  let pages = account(p.uid, 0, slots);
  if (pages < 0) {
    newPipeError = ENOMEM;
    return null;
  }
  if (tooManySoft(pages) && unprivileged(p)) {
    pages = account(p.uid, slots, PIPE_MIN_DEF_BUFFERS);
    slots = PIPE_MIN_DEF_BUFFERS;
  }
  if (tooManyHard(pages) && unprivileged(p)) {
    account(p.uid, slots, 0);
    newPipeError = ENFILE;
    return null;
  }
  const pp = changetype<Pipe>(allocZeroed(offsetof<Pipe>()));
  const ring = allocZeroed(<usize>slots << 4);
  if (changetype<usize>(pp) == 0 || ring == 0) {
    if (changetype<usize>(pp) != 0) free(changetype<usize>(pp), offsetof<Pipe>());
    if (ring != 0) free(ring, <usize>slots << 4);
    account(p.uid, slots, 0);
    newPipeError = ENOMEM;
    return null;
  }
  pp.ring = ring;
  pp.maxUsage = slots;
  pp.nrAccounted = slots;
  pp.user = p.uid;
  pp.owner = p.uid;
  listInit(readersList(pp));
  listInit(writersList(pp));
  listInit(openersList(pp));
  listInit(pollersList(pp));
  return pp;
}

/** free_pipe_info(): the pages, the ring and the user's count. Precondition: no file uses it, nobody sleeps on it. */
export function freePipe(pp: Pipe): void {
  account(pp.user, pp.nrAccounted, 0);
  if (pp.pages != 0) free(pp.pages, <usize>pp.maxUsage << PAGE_SHIFT);
  free(pp.ring, <usize>pp.maxUsage << 4);
  free(changetype<usize>(pp), offsetof<Pipe>());
}

/** The pages, made on the first write; false when memory is exhausted (anon_pipe_get_page: ENOMEM). */
// @ts-ignore: decorator
@inline export function ensurePages(pp: Pipe): bool {
  if (pp.pages != 0) return true;
  pp.pages = alloc(<usize>pp.maxUsage << PAGE_SHIFT);
  return pp.pages != 0;
}

/**
 * pipe_set_size(): `size` as F_SETPIPE_SZ's unsigned int. EINVAL when it
 * rounds to nothing (above 2^31); growing past pipe-max-size without
 * CAP_SYS_RESOURCE is EPERM, and so is growing an unprivileged user past the
 * soft or hard limit; fewer slots than are occupied is EBUSY. Then the
 * occupied slots move to the front of the new ring, and a writer may go on
 * (wake_up_interruptible(&pipe->wr_wait)). Answers the new size in bytes.
 */
export function setPipeSize(p: Process, pp: Pipe, size: u32): i32 {
  const rounded = roundPipeSize(size);
  const slots = rounded >> PAGE_SHIFT;
  if (slots == 0) return -EINVAL;
  if (slots > pp.maxUsage && rounded > pipeMaxSize && !hasCap(p, CAP_SYS_RESOURCE)) return -EPERM;
  const pages = account(pp.user, pp.nrAccounted, slots);
  if (pages < 0) return -ENOMEM;
  if (slots > pp.maxUsage && (tooManyHard(pages) || tooManySoft(pages)) && unprivileged(p)) {
    account(pp.user, slots, pp.nrAccounted);
    return -EPERM;
  }
  const n = pp.head - pp.tail;
  if (slots < n) {
    account(pp.user, slots, pp.nrAccounted);
    return -EBUSY;
  }
  const ring = allocZeroed(<usize>slots << 4);
  const region = pp.pages != 0 ? alloc(<usize>slots << PAGE_SHIFT) : 0;
  if (ring == 0 || (pp.pages != 0 && region == 0)) {
    if (ring != 0) free(ring, <usize>slots << 4);
    account(pp.user, slots, pp.nrAccounted);
    return -ENOMEM;
  }
  // pipe_resize_ring(): the occupied slots become 0 .. n-1
  for (let i: u32 = 0; i < n; i++) {
    const from = bufAt(pp, pp.tail + i);
    const to = changetype<PipeBuf>(ring + (<usize>i << 4));
    to.offset = from.offset;
    to.len = from.len;
    to.flags = from.flags;
    if (from.len != 0) {
      memory.copy(region + (<usize>i << PAGE_SHIFT) + from.offset, pageAt(pp, pp.tail + i) + from.offset, from.len);
    }
  }
  free(pp.ring, <usize>pp.maxUsage << 4);
  if (pp.pages != 0) free(pp.pages, <usize>pp.maxUsage << PAGE_SHIFT);
  pp.ring = ring;
  pp.pages = region;
  pp.maxUsage = slots;
  pp.nrAccounted = slots;
  pp.tail = 0;
  pp.head = n;
  wakeOneWriter(pp);
  return <i32>(slots << PAGE_SHIFT);
}

// --- wake-ups -------------------------------------------------------------
//
// rd_wait holds exclusive readers and, non-exclusively, pollers and FIFO
// openers (wait_for_partner sleeps there); wr_wait holds exclusive writers
// and pollers. wake_up_interruptible() wakes every non-exclusive sleeper and
// the first exclusive one; a woken sleeper leaves the list (autoremove) and,
// if it must sleep again, goes back at the tail.

function wakeAll(l: WaitList): void {
  let cur = l.head;
  while (cur != 0) {
    const w = changetype<Waiter>(cur);
    cur = w.next;
    listRemove(w);
    wake(w);
  }
}

// @ts-ignore: decorator
@inline function wakeFirst(l: WaitList): void {
  if (l.head != 0) {
    const w = changetype<Waiter>(l.head);
    listRemove(w);
    wake(w);
  }
}

/** wake_up_interruptible(&pipe->rd_wait). */
export function wakeOneReader(pp: Pipe): void {
  wakeFirst(readersList(pp));
  wakeAll(openersList(pp));
  wakeAll(pollersList(pp));
}

/** wake_up_interruptible(&pipe->wr_wait). */
export function wakeOneWriter(pp: Pipe): void {
  wakeFirst(writersList(pp));
  wakeAll(pollersList(pp));
}

/** wake_up_interruptible_all() on both queues (pipe_release). */
export function wakeEveryone(pp: Pipe): void {
  wakeAll(readersList(pp));
  wakeAll(writersList(pp));
  wakeAll(openersList(pp));
  wakeAll(pollersList(pp));
}

/** wake_up_partner(): wake_up_interruptible_all(&pipe->rd_wait). */
export function wakePartner(pp: Pipe): void {
  wakeAll(readersList(pp));
  wakeAll(openersList(pp));
  wakeAll(pollersList(pp));
}
