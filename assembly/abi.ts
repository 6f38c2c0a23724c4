/**
 * The cells: one static block of linear memory through which the host and
 * the core pass what does not fit in a return value. The host reads and
 * writes them through typed-array views; offsets are bytes from cells().
 * host/emu/abi.ts mirrors this layout; ABI_VERSION changes with it.
 *
 *   0  i32  ABI_VERSION
 *   4  i32  completions posted since the host last drained (the host zeroes it)
 *   8  u32  address of the completion buffer (moves only while it is empty)
 *  12  i32  token of the call that answered PENDING
 *  16  u32  address of the staging buffer: msgsnd's text is written there
 *           before the call, msgrcv's is copied there by it; spawn's groups
 *  20  i32  mtype, low half     (msgrcv's answer)
 *  24  i32  mtype, high half
 *  28  u32  bytes the staging buffer holds (it moves and grows only in
 *           stage_reserve() and msgrcv())
 *  32  f64  the current wall-clock second, written by the host before a call
 *  40  f64[16]  msqid_ds: key uid gid cuid cgid mode stime rtime ctime
 *               cbytes qnum qbytes lspid lrpid
 *               or semid_ds: key uid gid cuid cgid mode otime ctime nsems
 * 168  i32[8]   msginfo: msgpool msgmap msgmax msgmnb msgmni msgssz msgtql msgseg
 *      i32[10]  or seminfo: semmap semmni semmns semmnu semmsl semopm semume
 *               semusz semvmx semaem
 * 208  i32      an extra answer: SETALL's nsems when its count differs; stat's mode;
 *               recv's bytes copied
 * 212  i32      a second answer: pipe2's and socketpair's second descriptor
 * 216  i32      1 when a planned read or write woke sleepers: the host calls
 *               commit() once it has copied the bytes
 * 220  i32      segments of a planned read or write
 * 256  u32[2 × 16]  the segments: [address, bytes] each, in data order
 */

import { alloc, free } from './mem/alloc';

export const ABI_VERSION: i32 = 6;

export const C_VERSION: usize = 0;
export const C_COMP_COUNT: usize = 4;
export const C_COMP_PTR: usize = 8;
export const C_TOKEN: usize = 12;
export const C_STAGE: usize = 16;
export const C_MTYPE_LO: usize = 20;
export const C_MTYPE_HI: usize = 24;
export const C_STAGE_CAP: usize = 28;
export const C_NOW: usize = 32;
export const C_STAT: usize = 40;
export const C_INFO: usize = 168;
export const C_AUX: usize = 208;
export const C_AUX2: usize = 212;
export const C_COMMIT: usize = 216;
export const C_NSEG: usize = 220;
export const C_SEGS: usize = 256;
export const MAX_SEGS: i32 = 16;
const CELLS_SIZE: i32 = 512;

const cells = memory.data(CELLS_SIZE, 16);

export function cellsBase(): usize {
  return cells;
}

// @ts-ignore: decorator
@inline export function cellAddr(offset: usize): usize {
  return cells + offset;
}

/** ktime_get_real_seconds(): the second the host wrote before this call. */
// @ts-ignore: decorator
@inline export function now(): i64 {
  return <i64>load<f64>(cells + C_NOW);
}

/**
 * Blocks whose bytes a completion points at (a message handed to a sleeping
 * receiver): the host copies them out when it drains, right after the call,
 * so they are freed when the next call begins (enter()). Linked through
 * their first word, with their size in the second.
 */
export let retired: usize = 0;

/** A call's answer when its input is more than the staging buffer holds: nothing happened; the host reserves, stages and calls again. */
export const NEED_STAGE: i32 = -0x10002;

/** What retire() keeps at a block's start: the bytes a completion points at follow it. */
export const RETIRED_HEAD: usize = 2 * sizeof<usize>();

export function retire(block: usize, size: usize): void {
  store<usize>(block, retired);
  store<usize>(block, size, sizeof<usize>());
  retired = block;
}

export function flushRetired(): void {
  while (retired != 0) {
    const block = retired;
    retired = load<usize>(block);
    free(block, load<usize>(block, sizeof<usize>()));
  }
}

/**
 * The staging buffer: message text crosses the boundary here, so that a send
 * and a receive are one call each and the host copies with one
 * TypedArray.set over a view it can keep.
 */
let stagePtr: usize = 0;
let stageCap: usize = 0;

/** Makes the staging buffer hold at least `bytes`; false (unchanged) when memory is exhausted. */
// @ts-ignore: decorator
@inline export function reserveStage(bytes: usize): bool {
  return bytes <= stageCap || growStage(bytes);
}

function growStage(bytes: usize): bool {
  let cap = stageCap < 8192 ? <usize>8192 : stageCap;
  while (cap < bytes) cap = cap > (<usize>1 << 30) ? bytes : cap << 1;
  const grown = alloc(cap);
  if (grown == 0) return false;
  if (stagePtr != 0) free(stagePtr, stageCap);
  stagePtr = grown;
  stageCap = cap;
  store<u32>(cells + C_STAGE, <u32>grown);
  store<u32>(cells + C_STAGE_CAP, <u32>cap);
  return true;
}

// @ts-ignore: decorator
@inline export function stage(): usize {
  return stagePtr;
}

// @ts-ignore: decorator
@inline export function stageBytes(): usize {
  return stageCap;
}

/**
 * Segments of a planned read or write (readInto, writeSync): the core moves
 * no bytes, it says where they go, and the host copies them straight between
 * its buffer and the pipe's pages, in order.
 */
let segs: i32 = 0;

// @ts-ignore: decorator
@inline export function segReset(): void {
  segs = 0;
}

/** Adds [addr, len) after the others, joined to the last one where it continues it. Precondition: room (MAX_SEGS). */
export function segAdd(addr: usize, len: u32): void {
  if (segs > 0) {
    const last = cells + C_SEGS + (<usize>(segs - 1) << 3);
    if (<usize>load<u32>(last) + <usize>load<u32>(last, 4) == addr) {
      store<u32>(last, load<u32>(last, 4) + len, 4);
      return;
    }
  }
  if (!ASC_NO_ASSERT) assert(segs < MAX_SEGS, 'too many segments');
  const at = cells + C_SEGS + (<usize>segs << 3);
  store<u32>(at, <u32>addr);
  store<u32>(at, len, 4);
  segs++;
}

// @ts-ignore: decorator
@inline export function segDone(): void {
  store<i32>(cells + C_NSEG, segs);
}
