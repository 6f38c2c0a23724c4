/**
 * Waiters, completions, cancellation: how a call sleeps in a core that never
 * blocks.
 *
 * A call that would sleep parks a Waiter on its object's wait list and
 * answers PENDING with the waiter's token; the host turns that into a
 * promise. A later call that satisfies or fails the sleeper completes it:
 * the result goes into the completion buffer, which the host drains after
 * every call and settles, so each completion is settled within microtasks of
 * the call that caused it.
 *
 * Wake-ups that make a sleeper try again (a sender that may now fit, a
 * receiver woken by IPC_SET) are not done in place: the waker puts the
 * sleeper on the run queue, and at the end of the waker's call the queue is
 * run in wake order, each sleeper retrying its operation as its own thread
 * would once scheduled (wake_up_q() after the lock is dropped). A retry may
 * wake more sleepers; they run after it, in the same call. The queue is empty
 * between calls, so a cancellation or an exit never meets a half-woken
 * waiter.
 *
 * A waiter is completed, cancelled (abort → EINTR, timeout → EAGAIN, both
 * answered by the host) or abandoned (its process exits: never answered),
 * exactly one of them, once.
 */

import { alloc, free, realloc } from '../mem/alloc';
import { Process, registerExitHook } from '../proc/process';
import { C_COMP_COUNT, C_COMP_PTR, cellAddr } from '../abi';

/** What a call answers when it went to sleep; its token is in the C_TOKEN cell. */
export const PENDING: i32 = -0x10000;

/** Asleep on its object's list. */
export const SLEEPING: i32 = 1;
/** Completed while on the run queue: freed when the queue reaches it. */
export const DONE: i32 = 2;

/** Completion entries: [token, result, a, b, ptr, 0, 0, 0] as i32. */
export const COMP_STRIDE: usize = 32;

@unmanaged
export class WaitList {
  head: usize;
  tail: usize;
}

@unmanaged
export class Waiter {
  token: i32;
  /** Index of the kind's hooks (registerKind). */
  kind: i32;
  state: i32;
  /** On the run queue (woken, not yet retried). */
  queued: i32;
  proc: usize;
  /** The WaitList it is on, or 0. */
  list: usize;
  prev: usize;
  next: usize;
  procPrev: usize;
  procNext: usize;
  runNext: usize;
  /** The object slept on. */
  obj: usize;
  /** A block the call owns (a sender's message): released if it never completes. */
  block: usize;
  // the kind's arguments
  arg0: i64;
  arg1: i64;
  arg2: i32;
  arg3: i32;
}

/** Retries a woken waiter's operation: it either completes it or parks it again. */
export type Retry = (w: Waiter) => void;
/** Frees what a waiter owns (w.block) when it leaves without completing. */
export type Release = (w: Waiter) => void;

const MAX_KINDS: i32 = 16;
const retryHooks = memory.data(MAX_KINDS * sizeof<usize>(), 4);
const releaseHooks = memory.data(MAX_KINDS * sizeof<usize>(), 4);
/** Per kind: what a signal does to a sleeper (0: the default, cancel). */
const interruptHooks = memory.data(MAX_KINDS * sizeof<usize>(), 4);

/** interrupt()'s answers. */
export const INTR_CANCELLED: i32 = 1;
export const INTR_COMPLETED: i32 = 2;
export const INTR_SLEEPING: i32 = 3;

/**
 * What a signal whose handler runs does to a sleeping call: cancel it (the
 * host answers EINTR: INTR_CANCELLED), complete it with what it has done
 * (INTR_COMPLETED: a completion is posted), or leave it asleep because
 * SA_RESTART restarts it (INTR_SLEEPING).
 */
export type Interrupt = (w: Waiter, restart: bool) => i32;
let kindCount: i32 = 0;

/** Token → waiter: slots hold a waiter, or (odd) a link in the free-slot chain. */
let tokenSlots: usize = 0;
let tokenCap: i32 = 0;
let freeSlot: i32 = -1;
let tokenSerial: i32 = 0;
const TOKEN_SLOT_BITS: i32 = 20;
const TOKEN_SLOT_MASK: i32 = (1 << TOKEN_SLOT_BITS) - 1;

let liveWaiters: i32 = 0;
let compCap: i32 = 0;

export let runHead: usize = 0;
let runTail: usize = 0;

/** Registers a kind's retry and release; answers the kind index for its waiters. */
export function registerKind(retry: Retry, release: Release): i32 {
  if (!ASC_NO_ASSERT) assert(kindCount < MAX_KINDS, 'too many waiter kinds');
  store<usize>(retryHooks + (<usize>kindCount * sizeof<usize>()), changetype<usize>(retry));
  store<usize>(releaseHooks + (<usize>kindCount * sizeof<usize>()), changetype<usize>(release));
  return kindCount++;
}

/** Gives a kind its own answer to signals (pipes, sockets and FIFO opens restart; SysV calls never do). */
export function setInterruptHook(kind: i32, hook: Interrupt): void {
  store<usize>(interruptHooks + <usize>kind * sizeof<usize>(), changetype<usize>(hook));
}

/** A signal for a sleeping call (see Interrupt); `restart`: the handler has SA_RESTART. */
export function interrupt(w: Waiter, restart: bool): i32 {
  const hook = load<usize>(interruptHooks + <usize>w.kind * sizeof<usize>());
  if (hook == 0) {
    detach(w);
    return INTR_CANCELLED;
  }
  return changetype<Interrupt>(hook)(w, restart);
}

/** Sets up the waiter machinery; the exit hook abandons a process's sleeping calls first of all clean-ups. */
export function initWaiters(): void {
  registerExitHook(abandonAll);
}

export function waiterCount(): i32 {
  return liveWaiters;
}

// --- wait lists -----------------------------------------------------------

export function listInit(l: WaitList): void {
  l.head = 0;
  l.tail = 0;
}

export function listAppend(l: WaitList, w: Waiter): void {
  w.list = changetype<usize>(l);
  w.next = 0;
  w.prev = l.tail;
  if (l.tail != 0) changetype<Waiter>(l.tail).next = changetype<usize>(w);
  else l.head = changetype<usize>(w);
  l.tail = changetype<usize>(w);
}

export function listRemove(w: Waiter): void {
  const l = changetype<WaitList>(w.list);
  if (changetype<usize>(l) == 0) return;
  if (w.prev != 0) changetype<Waiter>(w.prev).next = w.next;
  else l.head = w.next;
  if (w.next != 0) changetype<Waiter>(w.next).prev = w.prev;
  else l.tail = w.prev;
  w.list = 0;
  w.prev = 0;
  w.next = 0;
}

/** list_move_tail(). */
export function listMoveTail(w: Waiter): void {
  const l = changetype<WaitList>(w.list);
  listRemove(w);
  listAppend(l, w);
}

// --- parking --------------------------------------------------------------

/**
 * A new waiter for `p` on `list`, with a token, or null when memory is
 * exhausted (the call then fails with ENOMEM instead of sleeping). Reserves
 * a completion slot for it, so completing never allocates.
 */
export function park(kind: i32, p: Process, list: WaitList, obj: usize): Waiter | null {
  if (!reserveCompletions(liveWaiters + 1)) return null;
  if (freeSlot < 0 && !growTokens()) return null;
  const w = changetype<Waiter>(alloc(offsetof<Waiter>()));
  if (changetype<usize>(w) == 0) return null;
  const slot = freeSlot;
  freeSlot = <i32>(load<usize>(tokenSlots + <usize>slot * sizeof<usize>()) >> 1) - 1;
  store<usize>(tokenSlots + <usize>slot * sizeof<usize>(), changetype<usize>(w));
  tokenSerial = (tokenSerial + 1) & 0x7ff;
  w.token = (tokenSerial << TOKEN_SLOT_BITS) | slot;
  w.kind = kind;
  w.state = SLEEPING;
  w.queued = 0;
  w.proc = changetype<usize>(p);
  w.runNext = 0;
  w.obj = obj;
  w.block = 0;
  listAppend(list, w);
  // the process's own list of sleeping calls, for exit
  w.procNext = 0;
  w.procPrev = p.waitTail;
  if (p.waitTail != 0) changetype<Waiter>(p.waitTail).procNext = changetype<usize>(w);
  else p.waitHead = changetype<usize>(w);
  p.waitTail = changetype<usize>(w);
  liveWaiters++;
  return w;
}

function growTokens(): bool {
  const cap = tokenCap == 0 ? 64 : tokenCap << 1;
  if (cap > TOKEN_SLOT_MASK + 1) return false;
  const size = <usize>cap * sizeof<usize>();
  const grown = realloc(tokenSlots, <usize>tokenCap * sizeof<usize>(), size, <usize>tokenCap * sizeof<usize>());
  if (grown == 0) return false;
  tokenSlots = grown;
  // chain the new slots: a free slot holds ((next free + 1) << 1) | 1, so it can never look like a waiter
  for (let i = tokenCap; i < cap; i++) {
    const next = i + 1 < cap ? i + 1 : freeSlot;
    store<usize>(tokenSlots + <usize>i * sizeof<usize>(), (<usize>(next + 1) << 1) | 1);
  }
  freeSlot = tokenCap;
  tokenCap = cap;
  return true;
}

function reserveCompletions(n: i32): bool {
  if (n <= compCap) return true;
  let cap = compCap == 0 ? 16 : compCap << 1;
  while (cap < n) cap <<= 1;
  const grown = realloc(load<usize>(cellAddr(C_COMP_PTR)), <usize>compCap * COMP_STRIDE, <usize>cap * COMP_STRIDE, 0);
  if (grown == 0) return false;
  // the host drains after every call, so no completion is pending while the buffer moves
  if (!ASC_NO_ASSERT) assert(load<i32>(cellAddr(C_COMP_COUNT)) == 0, 'completion buffer moved while not drained');
  store<usize>(cellAddr(C_COMP_PTR), grown);
  compCap = cap;
  return true;
}

/** The waiter a token names, if it is still asleep. */
export function byToken(token: i32): Waiter | null {
  const slot = token & TOKEN_SLOT_MASK;
  if (token < 0 || slot >= tokenCap) return null;
  const w = load<usize>(tokenSlots + <usize>slot * sizeof<usize>());
  if ((w & 1) != 0 || w == 0) return null;
  const waiter = changetype<Waiter>(w);
  return waiter.token == token && waiter.state == SLEEPING ? waiter : null;
}

// --- leaving --------------------------------------------------------------

/** Takes the waiter off its object's list and its process, and gives its token back. */
function detach(w: Waiter): void {
  listRemove(w);
  const p = changetype<Process>(w.proc);
  if (w.procPrev != 0) changetype<Waiter>(w.procPrev).procNext = w.procNext;
  else p.waitHead = w.procNext;
  if (w.procNext != 0) changetype<Waiter>(w.procNext).procPrev = w.procPrev;
  else p.waitTail = w.procPrev;
  const slot = w.token & TOKEN_SLOT_MASK;
  store<usize>(tokenSlots + <usize>slot * sizeof<usize>(), (<usize>(freeSlot + 1) << 1) | 1);
  freeSlot = slot;
  liveWaiters--;
  if (w.block != 0) {
    changetype<Release>(load<usize>(releaseHooks + <usize>w.kind * sizeof<usize>()))(w);
    w.block = 0;
  }
  w.state = DONE;
  if (!w.queued) free(changetype<usize>(w), offsetof<Waiter>());
}

/**
 * Completes a sleeping call: the host will settle its promise with `result`
 * (≥ 0, or -errno), `a`/`b` (the two halves of a long) and `ptr` (bytes of
 * the result, valid until the next call). A block still in w.block is
 * released: set it to 0 first if the result took it over.
 */
export function complete(w: Waiter, result: i32, a: i32, b: i32, ptr: usize): void {
  if (!ASC_NO_ASSERT) assert(w.state == SLEEPING, 'completing a waiter twice');
  const countCell = cellAddr(C_COMP_COUNT);
  const n = load<i32>(countCell);
  if (!ASC_NO_ASSERT) assert(n < compCap, 'completion buffer overflow');
  const e = load<usize>(cellAddr(C_COMP_PTR)) + <usize>n * COMP_STRIDE;
  store<i32>(e, w.token);
  store<i32>(e, result, 4);
  store<i32>(e, a, 8);
  store<i32>(e, b, 12);
  store<u32>(e, <u32>ptr, 16);
  store<i32>(countCell, n + 1);
  detach(w);
}

/** Ends a sleeping call without an answer (abort, timeout: the host answers; exit: nobody does). */
export function cancel(w: Waiter): void {
  detach(w);
}

function abandonAll(p: Process): void {
  while (p.waitHead != 0) detach(changetype<Waiter>(p.waitHead));
}

// --- the run queue --------------------------------------------------------

/** wake_q_add(): the waiter will retry at the end of this call, after those woken before it; waking twice is once. */
export function wake(w: Waiter): void {
  if (w.queued) return;
  w.queued = 1;
  w.runNext = 0;
  if (runTail != 0) changetype<Waiter>(runTail).runNext = changetype<usize>(w);
  else runHead = changetype<usize>(w);
  runTail = changetype<usize>(w);
}

/** wake_up_q(), then the woken threads run: each retries in wake order until nobody is left. */
export function runWoken(): void {
  while (runHead != 0) {
    const w = changetype<Waiter>(runHead);
    runHead = w.runNext;
    if (runHead == 0) runTail = 0;
    w.queued = 0;
    if (w.state == DONE) {
      free(changetype<usize>(w), offsetof<Waiter>());
      continue;
    }
    changetype<Retry>(load<usize>(retryHooks + <usize>w.kind * sizeof<usize>()))(w);
  }
}
