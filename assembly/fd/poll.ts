/**
 * poll(2): of one descriptor (sysPoll, what the streams wait with) or of a
 * set of them (sysPollSet). The revents of a descriptor are do_pollfd()'s:
 * the asked events that hold plus POLLERR and POLLHUP; a closed one answers
 * POLLNVAL; a negative one is skipped. Nothing holds and the call may wait:
 * it sleeps until a change of a file makes something hold (a signal ends it
 * with EINTR: poll is never restarted; the host answers a timeout).
 */

import { C_TOKEN, cellAddr, NEED_STAGE, retire, RETIRED_HEAD, stage, stageBytes } from '../abi';
import { EINVAL, ENOMEM } from '../errno';
import { alloc, free } from '../mem/alloc';
import { pipePoll, POLLERR, POLLHUP } from '../pipe/io';
import { Pipe, pollersList } from '../pipe/pipe';
import { Process } from '../proc/process';
import { sockPoll, sockPollers } from '../sock/io';
import { cancel, complete, listAppend, listInit, park, PENDING, registerKind, Waiter, WaitList } from '../wait/waiters';
import { File, FILE_PIPE, FILE_REG, FILE_SOCK, fget, fput } from './file';
import { fdFile, NOFILE } from './table';

const POLLNVAL: i32 = 0x020;
let pollKind: i32 = -1;
/** Where a poll of a negative descriptor sleeps: nothing ever wakes it (only its timeout or a signal ends it). */
const nowhere = changetype<WaitList>(memory.data(offsetof<WaitList>(), 8));

export function initPoll(): void {
  pollKind = registerKind(retryPoll, releasePoll);
  setKind = registerKind(neverRetried, releaseSet);
  entryKind = registerKind(retryEntry, releaseEntry);
  listInit(nowhere);
}

/** DEFAULT_POLLMASK: what a regular file always reports. */
const DEFAULT_POLLMASK: i32 = 0x001 | 0x004 | 0x040 | 0x100;

// @ts-ignore: decorator
@inline function maskOf(f: File): i32 {
  if (f.kind == FILE_PIPE) return pipePoll(f);
  return f.kind == FILE_SOCK ? sockPoll(f) : DEFAULT_POLLMASK;
}

/** Where a poll of `f` sleeps; a regular file never changes its mask, so such a poll waits for its timeout. */
// @ts-ignore: decorator
@inline function pollList(f: File): WaitList {
  if (f.kind == FILE_PIPE) return pollersList(changetype<Pipe>(f.obj));
  return f.kind == FILE_SOCK ? sockPollers(f) : nowhere;
}

/**
 * poll(2) of one descriptor (do_pollfd): a negative one is ignored (revents
 * 0, and the call waits its timeout); a closed one answers POLLNVAL;
 * otherwise the asked events that hold, plus POLLERR and POLLHUP. Nothing
 * there and `wait`: PENDING until a change of the file makes some hold (a
 * signal ends it with EINTR: poll is never restarted).
 */
export function sysPoll(p: Process, fd: i32, events: i32, wait: bool): i32 {
  if (fd < 0) {
    if (!wait) return 0;
    const w = park(pollKind, p, nowhere, 0);
    if (w === null) return -ENOMEM;
    w.arg2 = 0;
    store<i32>(cellAddr(C_TOKEN), w.token);
    return PENDING;
  }
  const f = fdFile(p, fd);
  if (f === null) return POLLNVAL;
  const filter = (events & 0xffff) | POLLERR | POLLHUP;
  const r = maskOf(f) & filter;
  if (r != 0 || !wait) return r;
  const w = park(pollKind, p, pollList(f), changetype<usize>(f));
  if (w === null) return -ENOMEM;
  fget(f);
  w.block = changetype<usize>(f);
  w.arg2 = filter;
  store<i32>(cellAddr(C_TOKEN), w.token);
  return PENDING;
}

function retryPoll(w: Waiter): void {
  const f = changetype<File>(w.block);
  const r = maskOf(f) & w.arg2;
  if (r == 0) {
    listAppend(pollList(f), w);
    return;
  }
  complete(w, r, 0, 0, 0);
}

function releasePoll(w: Waiter): void {
  fput(changetype<File>(w.block));
}

// --- a set of descriptors -------------------------------------------------

/**
 * A poll of several descriptors sleeps as Linux's poll table does: an entry
 * on the wait list of each file it polls, all for the one call. The call's
 * own waiter (the token the host holds) sleeps on `nowhere` and owns the
 * set. A wake-up of any entry is do_poll()'s next pass: every descriptor is
 * looked up and asked again, and the call completes when some event holds;
 * otherwise the entry sleeps again.
 *
 *   set    n: i32, 0: i32, then n entries
 *   entry  fd: i32, filter: i32, file: usize (a reference, or 0), waiter: usize (0 once gone)
 *
 * Staged by the host: n triples [fd, events, revents] of i32; a call that
 * answers at once writes the revents there, a completion points at n i32.
 */
let setKind: i32 = -1;
let entryKind: i32 = -1;
const SET_HEAD: usize = 8;
const ENTRY: usize = 16;
const STAGED: usize = 12;

// @ts-ignore: decorator
@inline function entryAt(set: usize, i: i32): usize {
  return set + SET_HEAD + <usize>i * ENTRY;
}

/** One descriptor of a pass: its revents under `filter` (the asked events with POLLERR and POLLHUP). */
function revents(p: Process, fd: i32, filter: i32): i32 {
  if (fd < 0) return 0;
  const f = fdFile(p, fd);
  if (f === null) return POLLNVAL;
  return maskOf(f) & filter;
}

/** poll(2) of `n` descriptors staged as triples; the number with revents, or PENDING when `wait` and none. */
export function sysPollSet(p: Process, n: i32, wait: bool): i32 {
  if (<u32>n > <u32>NOFILE) return -EINVAL; // nfds above RLIMIT_NOFILE
  if (<usize>n * STAGED > stageBytes()) return NEED_STAGE;
  const st = stage();
  let count = 0;
  for (let i = 0; i < n; i++) {
    const at = st + <usize>i * STAGED;
    const r = revents(p, load<i32>(at), (load<i32>(at, 4) & 0xffff) | POLLERR | POLLHUP);
    store<i32>(at, r, 8);
    if (r != 0) count++;
  }
  if (count != 0 || !wait) return count;
  return sleepSet(p, n, st);
}

function sleepSet(p: Process, n: i32, st: usize): i32 {
  const size = SET_HEAD + <usize>n * ENTRY;
  const set = alloc(size);
  if (set == 0) return -ENOMEM;
  store<i32>(set, n);
  for (let i = 0; i < n; i++) {
    const at = st + <usize>i * STAGED;
    const e = entryAt(set, i);
    const fd = load<i32>(at);
    store<i32>(e, fd);
    store<i32>(e, (load<i32>(at, 4) & 0xffff) | POLLERR | POLLHUP, 4);
    // a file that never changes its mask (a regular file) gets no entry: nothing would wake it
    let held: usize = 0;
    const f = fdFile(p, fd); // null for a negative fd
    if (f !== null && f.kind != FILE_REG) {
      fget(f);
      held = changetype<usize>(f);
    }
    store<usize>(e, held, 8);
    store<usize>(e, 0, 12);
  }
  const call = park(setKind, p, nowhere, set);
  if (call === null) {
    freeSet(set);
    return -ENOMEM;
  }
  call.block = set;
  for (let i = 0; i < n; i++) {
    const e = entryAt(set, i);
    const f = load<usize>(e, 8);
    if (f == 0) continue;
    const w = park(entryKind, p, pollList(changetype<File>(f)), set);
    if (w === null) {
      cancel(call);
      return -ENOMEM;
    }
    w.block = set;
    w.arg2 = i;
    w.arg0 = <i64>changetype<usize>(call);
    store<usize>(e, changetype<usize>(w), 12);
  }
  store<i32>(cellAddr(C_TOKEN), call.token);
  return PENDING;
}

/** The call's waiter sleeps where nothing wakes it: its entries do the waking. */
function neverRetried(w: Waiter): void {
  if (!ASC_NO_ASSERT) assert(false, 'a poll set was woken directly');
}

/** The call leaves (completed, interrupted, timed out, its process gone): its entries go with it. */
function releaseSet(w: Waiter): void {
  const set = w.block;
  const n = load<i32>(set);
  for (let i = 0; i < n; i++) {
    const entry = load<usize>(entryAt(set, i), 12);
    if (entry != 0) cancel(changetype<Waiter>(entry));
  }
  freeSet(set);
}

function freeSet(set: usize): void {
  const n = load<i32>(set);
  for (let i = 0; i < n; i++) {
    const f = load<usize>(entryAt(set, i), 8);
    if (f != 0) fput(changetype<File>(f));
  }
  free(set, SET_HEAD + <usize>n * ENTRY);
}

function releaseEntry(w: Waiter): void {
  store<usize>(entryAt(w.block, w.arg2), 0, 12);
}

/** A file of the set changed: the next pass over every descriptor. */
function retryEntry(w: Waiter): void {
  const set = w.block;
  const call = changetype<Waiter>(<usize>w.arg0);
  const p = changetype<Process>(call.proc);
  const n = load<i32>(set);
  const size = RETIRED_HEAD + (<usize>n << 2);
  const block = alloc(size);
  if (block == 0) {
    complete(call, -ENOMEM, 0, 0, 0); // takes this entry with it
    return;
  }
  const out = block + RETIRED_HEAD;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const e = entryAt(set, i);
    const r = revents(p, load<i32>(e), load<i32>(e, 4));
    store<i32>(out + (<usize>i << 2), r);
    if (r != 0) count++;
  }
  if (count == 0) {
    free(block, size);
    listAppend(pollList(changetype<File>(load<usize>(entryAt(set, w.arg2), 8))), w);
    return;
  }
  complete(call, count, 0, 0, out); // cancels every entry, this one too: w is gone
  retire(block, size);
}
