/**
 * The core's own allocator, over pages it grows itself. Every structure of
 * the model (messages, queues, processes, waiters, tables) lives here; the
 * AssemblyScript runtime's TLSF heap is left alone, so the hot path never
 * allocates a managed object and never wakes the GC, and running out of
 * memory is an answer (0, which callers turn into ENOMEM), never a trap.
 *
 * Small blocks (≤ 32 KiB) come in size classes 2^k and 3·2^(k-1) from 16
 * bytes, each with a free list; empty lists are refilled by carving chunks of
 * fresh pages. Larger blocks are runs of whole pages, kept on an address-
 * ordered free list and merged with their neighbours when freed. Memory is
 * never given back to the wasm instance (it cannot shrink), only reused.
 *
 * The caller passes the size again to free(): no block carries a header.
 *
 *   chunk:  | block c | block c' | block c | ... bump → | unused |
 *   large:  [ next run (usize) | bytes (usize) | ... ]   (only while free)
 */

const PAGE_SHIFT: usize = 16;
const PAGE: usize = 1 << PAGE_SHIFT;
const MIN_BLOCK: usize = 16;
const MAX_SMALL: usize = 32768;
const CLASSES: i32 = 23;
const CHUNK: usize = 4 * PAGE;

/** Free-list heads, one per class. */
const freeLists = memory.data(<i32>CLASSES * sizeof<usize>(), 8);

/**
 * The hot path's class arithmetic as two tables, filled when the instance
 * starts: the class of sizes up to TABLE_MAX by (size + 7) >> 3, and each
 * class's block size.
 */
const TABLE_MAX: usize = 1024;
const classByEighth = memory.data(<i32>(TABLE_MAX >> 3) + 1);
const classSizes = memory.data(CLASSES << 2, 4);
for (let c = 0; c < CLASSES; c++) store<u32>(classSizes + (<usize>c << 2), <u32>computeClassSize(c));
for (let i: usize = 0; i <= TABLE_MAX >> 3; i++) store<u8>(classByEighth + i, <u8>computeClassOf(i << 3));

let bump: usize = 0;
let bumpEnd: usize = 0;
/** Address-ordered list of free page runs (large blocks). */
let largeFree: usize = 0;
/** Bytes handed out and not yet freed, counted by class size: leak checks in tests. (The instance holds < 4 GiB.) */
let bytesInUse: usize = 0;

/** The smallest class whose blocks hold `size` bytes (size ≤ MAX_SMALL). */
// @ts-ignore: decorator
@inline function classOf(size: usize): i32 {
  // every class size is a multiple of 8, so sizes 8k+1 ..= 8k+8 share a class
  return size <= TABLE_MAX ? <i32>load<u8>(classByEighth + ((size + 7) >> 3)) : computeClassOf(size);
}

// @ts-ignore: decorator
@inline function computeClassOf(size: usize): i32 {
  if (size <= MIN_BLOCK) return 0;
  const s = <u32>(size - 1); // size in (2^k, 2^(k+1)]  ⇔  s in [2^k, 2^(k+1))
  const k = 31 - <i32>clz(s);
  const upper = <i32>((s >> <u32>(k - 1)) & 1); // 1 when size > 3·2^(k-1)
  return ((k - 4) << 1) + 1 + upper;
}

/** Bytes of a block of class c: 16, 24, 32, 48, 64, 96, ... 32768. */
// @ts-ignore: decorator
@inline function classSize(c: i32): usize {
  return <usize>load<u32>(classSizes + (<usize>c << 2));
}

// @ts-ignore: decorator
@inline function computeClassSize(c: i32): usize {
  if (c == 0) return MIN_BLOCK;
  const k = ((c - 1) >> 1) + 4;
  return (c & 1) ? (<usize>3 << <usize>(k - 1)) : (<usize>1 << <usize>(k + 1));
}

/** Grows the instance by `pages` and answers their address, or 0 when the engine refuses. */
function growPages(pages: usize): usize {
  const before = memory.grow(<i32>pages);
  if (before < 0) return 0;
  return <usize>before << PAGE_SHIFT;
}

/** Pushes the rest of the current chunk onto the free lists, largest blocks first, then takes a fresh chunk. */
function refill(): bool {
  let rest = bumpEnd - bump;
  while (rest >= MIN_BLOCK) {
    let c = classOf(rest < MAX_SMALL ? rest : MAX_SMALL);
    if (classSize(c) > rest) c--;
    const size = classSize(c);
    pushFree(c, bump);
    bump += size;
    rest -= size;
  }
  const base = growPages(CHUNK >> PAGE_SHIFT);
  if (base == 0) return false;
  bump = base;
  bumpEnd = base + CHUNK;
  return true;
}

// @ts-ignore: decorator
@inline function pushFree(c: i32, block: usize): void {
  const head = freeLists + (<usize>c << alignof<usize>());
  store<usize>(block, load<usize>(head));
  store<usize>(head, block);
}

/** A block of at least `size` bytes, 8-byte aligned, contents undefined; 0 when memory is exhausted. */
// @ts-ignore: decorator
@inline export function alloc(size: usize): usize {
  // the hot path (a block on the free list) is inlined into callers; the rest is not
  if (size <= MAX_SMALL) {
    const c = classOf(size);
    const head = freeLists + (<usize>c << alignof<usize>());
    const block = load<usize>(head);
    if (block != 0) {
      store<usize>(head, load<usize>(block));
      bytesInUse += classSize(c);
      return block;
    }
  }
  return allocSlow(size);
}

function allocSlow(size: usize): usize {
  if (size > MAX_SMALL) return allocLarge(size);
  const csize = classSize(classOf(size));
  if (bump + csize > bumpEnd && !refill()) return 0;
  const carved = bump;
  bump += csize;
  bytesInUse += csize;
  return carved;
}

/** alloc() with the block's bytes zeroed. */
export function allocZeroed(size: usize): usize {
  const block = alloc(size);
  if (block != 0) memory.fill(block, 0, size);
  return block;
}

/** Returns a block; `size` is any size alloc() was given for it. */
// @ts-ignore: decorator
@inline export function free(block: usize, size: usize): void {
  if (!ASC_NO_ASSERT) assert(block != 0 && (block & 7) == 0, 'free of a bad block');
  if (size > MAX_SMALL) {
    freeLarge(block, size);
  } else {
    const c = classOf(size);
    bytesInUse -= classSize(c);
    pushFree(c, block);
  }
}

/** Moves `used` bytes of a block into a new one of `newSize` bytes; 0 (the old one kept) when memory is exhausted. */
export function realloc(block: usize, oldSize: usize, newSize: usize, used: usize): usize {
  const moved = alloc(newSize);
  if (moved == 0) return 0;
  if (used != 0) memory.copy(moved, block, used);
  if (block != 0) free(block, oldSize);
  return moved;
}

// @ts-ignore: decorator
@inline function runBytes(size: usize): usize {
  return (size + PAGE - 1) & ~(PAGE - 1);
}

function allocLarge(size: usize): usize {
  if (size > <usize>0xffff0000) return 0; // more than a wasm32 instance can hold
  const bytes = runBytes(size);
  let prev: usize = 0;
  let run = largeFree;
  while (run != 0) {
    const runSize = load<usize>(run, sizeof<usize>());
    const next = load<usize>(run);
    if (runSize >= bytes) {
      if (runSize == bytes) {
        if (prev == 0) largeFree = next; else store<usize>(prev, next);
      } else {
        // keep the head of the run on the list, hand out its tail
        store<usize>(run, runSize - bytes, sizeof<usize>());
        run += runSize - bytes;
      }
      bytesInUse += bytes;
      return run;
    }
    prev = run;
    run = next;
  }
  const base = growPages(bytes >> PAGE_SHIFT);
  if (base == 0) return 0;
  bytesInUse += bytes;
  return base;
}

function freeLarge(block: usize, size: usize): void {
  let bytes = runBytes(size);
  bytesInUse -= bytes;
  let prev: usize = 0;
  let next = largeFree;
  while (next != 0 && next < block) {
    prev = next;
    next = load<usize>(next);
  }
  // merge with the following run
  if (next != 0 && block + bytes == next) {
    bytes += load<usize>(next, sizeof<usize>());
    next = load<usize>(next);
  }
  // merge into the preceding run
  if (prev != 0 && prev + load<usize>(prev, sizeof<usize>()) == block) {
    store<usize>(prev, load<usize>(prev, sizeof<usize>()) + bytes, sizeof<usize>());
    store<usize>(prev, next);
    return;
  }
  store<usize>(block, next);
  store<usize>(block, bytes, sizeof<usize>());
  if (prev == 0) largeFree = block; else store<usize>(prev, block);
}

/** Bytes currently allocated (by class size), for leak checks. */
export function inUse(): usize {
  return bytesInUse;
}

/**
 * memory.copy for the short texts of the hot path: V8 compiles memory.copy
 * to a call into C, which costs more than copying a few words inline. Up to
 * 64 bytes there is no loop (V8 puts an interrupt check in every loop turn):
 * the first and the last 8, 16 or 32 bytes, which overlap when n is not a
 * power of two. Precondition: the two blocks do not overlap.
 */
// @ts-ignore: decorator
@inline export function copyBytes(dst: usize, src: usize, n: usize): void {
  if (n > 64) copyLong(dst, src, n);
  else copyShort(dst, src, n);
}

/** copyBytes() of at most 64 bytes. */
// @ts-ignore: decorator
@inline function copyShort(dst: usize, src: usize, n: usize): void {
  if (n >= 16) {
    if (n >= 32) {
      const a = load<u64>(src);
      const b = load<u64>(src, 8);
      const c = load<u64>(src, 16);
      const d = load<u64>(src, 24);
      const e = src + n - 32;
      const w = load<u64>(e);
      const x = load<u64>(e, 8);
      const y = load<u64>(e, 16);
      const z = load<u64>(e, 24);
      store<u64>(dst, a);
      store<u64>(dst, b, 8);
      store<u64>(dst, c, 16);
      store<u64>(dst, d, 24);
      const f = dst + n - 32;
      store<u64>(f, w);
      store<u64>(f, x, 8);
      store<u64>(f, y, 16);
      store<u64>(f, z, 24);
    } else {
      const a = load<u64>(src);
      const b = load<u64>(src, 8);
      const y = load<u64>(src + n - 16);
      const z = load<u64>(src + n - 8);
      store<u64>(dst, a);
      store<u64>(dst, b, 8);
      store<u64>(dst + n - 16, y);
      store<u64>(dst + n - 8, z);
    }
  } else if (n >= 8) {
    const a = load<u64>(src);
    const z = load<u64>(src + n - 8);
    store<u64>(dst, a);
    store<u64>(dst + n - 8, z);
  } else if (n >= 4) {
    const a = load<u32>(src);
    const z = load<u32>(src + n - 4);
    store<u32>(dst, a);
    store<u32>(dst + n - 4, z);
  } else if (n != 0) {
    // 1, 2 or 3 bytes: 0, n >> 1 and n - 1 cover them
    const a = load<u8>(src);
    const m = load<u8>(src + (n >> 1));
    const z = load<u8>(src + n - 1);
    store<u8>(dst, a);
    store<u8>(dst + (n >> 1), m);
    store<u8>(dst + n - 1, z);
  }
}

function copyLong(dst: usize, src: usize, n: usize): void {
  if (n > 128) {
    memory.copy(dst, src, n);
    return;
  }
  let i: usize = 0;
  for (; i + 32 <= n; i += 32) {
    const a = load<u64>(src + i);
    const b = load<u64>(src + i, 8);
    const c = load<u64>(src + i, 16);
    const d = load<u64>(src + i, 24);
    store<u64>(dst + i, a);
    store<u64>(dst + i, b, 8);
    store<u64>(dst + i, c, 16);
    store<u64>(dst + i, d, 24);
  }
  // the rest (< 32 bytes) through the loop-free path
  if (i < n) copyShort(dst + i, src + i, n - i);
}
