/**
 * An open-addressing hash map from i64 keys to non-zero usize values, in the
 * core's own memory: the registry's key → object lookup and a message
 * queue's type → FIFO index. Linear probing with backward-shift deletion (no
 * tombstones), Fibonacci hashing, capacity a power of two kept at most half
 * full. A value of 0 marks an empty slot.
 *
 *   slots: [ key i64 | value usize | pad ] × capacity   (16 bytes each)
 */

import { allocZeroed, free } from '../mem/alloc';

const SLOT: usize = 16;
const MIN_BITS: u32 = 3;

@unmanaged
export class HashMap {
  slots: usize;
  /** log2 of the capacity; 0 while no slots are allocated. */
  bits: u32;
  count: u32;
}

/** An empty map (no slots until the first insert). */
export function mapInit(m: HashMap): void {
  m.slots = 0;
  m.bits = 0;
  m.count = 0;
}

// @ts-ignore: decorator
@inline function home(key: i64, bits: u32): u32 {
  return <u32>((<u64>key * 0x9e3779b97f4a7c15) >> (64 - <u64>bits));
}

/** The value for `key`, or 0. */
export function mapGet(m: HashMap, key: i64): usize {
  if (m.bits == 0) return 0;
  const mask = (<u32>1 << m.bits) - 1;
  let i = home(key, m.bits);
  let value = load<usize>(m.slots + <usize>i * SLOT, 8);
  // the map is never full, so the probe ends at an empty slot
  while (value != 0 && load<i64>(m.slots + <usize>i * SLOT) != key) {
    i = (i + 1) & mask;
    value = load<usize>(m.slots + <usize>i * SLOT, 8);
  }
  return value;
}

/**
 * Makes room for one more key. Callers reserve before the point where an
 * operation can no longer fail, so that mapInsert itself never allocates.
 */
export function mapReserve(m: HashMap): bool {
  if (m.bits != 0 && (m.count + 1) << 1 <= <u32>1 << m.bits) return true;
  const bits = m.bits == 0 ? MIN_BITS : m.bits + 1;
  const slots = allocZeroed(<usize>SLOT << bits);
  if (slots == 0) return false;
  const old = m.slots;
  const oldBits = m.bits;
  m.slots = slots;
  m.bits = bits;
  if (oldBits != 0) {
    const n = <u32>1 << oldBits;
    for (let i: u32 = 0; i < n; i++) {
      const slot = old + <usize>i * SLOT;
      const value = load<usize>(slot, 8);
      if (value != 0) place(m, load<i64>(slot), value);
    }
    free(old, <usize>SLOT << oldBits);
  }
  return true;
}

function place(m: HashMap, key: i64, value: usize): void {
  const mask = (<u32>1 << m.bits) - 1;
  let i = home(key, m.bits);
  for (;;) {
    const slot = m.slots + <usize>i * SLOT;
    if (load<usize>(slot, 8) == 0) {
      store<i64>(slot, key);
      store<usize>(slot, value, 8);
      return;
    }
    i = (i + 1) & mask;
  }
}

/** Inserts a key that is not present. Precondition: mapReserve(m) succeeded since the last insert. */
export function mapInsert(m: HashMap, key: i64, value: usize): void {
  if (!ASC_NO_ASSERT) assert(value != 0 && m.bits != 0 && (m.count + 1) << 1 <= <u32>1 << m.bits, 'mapInsert without room');
  place(m, key, value);
  m.count++;
}

/** Removes `key` if present. */
export function mapDelete(m: HashMap, key: i64): void {
  if (m.bits == 0) return;
  const mask = (<u32>1 << m.bits) - 1;
  let i = home(key, m.bits);
  for (;;) {
    const slot = m.slots + <usize>i * SLOT;
    if (load<usize>(slot, 8) == 0) return;
    if (load<i64>(slot) == key) break;
    i = (i + 1) & mask;
  }
  // Backward shift: pull each later entry of the cluster into the hole when
  // the hole lies between its home and its slot, so lookups never stop early.
  let j = i;
  for (;;) {
    j = (j + 1) & mask;
    const next = m.slots + <usize>j * SLOT;
    const value = load<usize>(next, 8);
    if (value == 0) break;
    const h = home(load<i64>(next), m.bits);
    if (((j - h) & mask) >= ((j - i) & mask)) {
      const hole = m.slots + <usize>i * SLOT;
      store<i64>(hole, load<i64>(next));
      store<usize>(hole, value, 8);
      i = j;
    }
  }
  store<usize>(m.slots + <usize>i * SLOT, 0, 8);
  m.count--;
}

/** Calls `each` on every value (the map must not change meanwhile). */
export function mapEach(m: HashMap, each: (value: usize) => void): void {
  if (m.bits == 0) return;
  const n = <u32>1 << m.bits;
  for (let i: u32 = 0; i < n; i++) {
    const value = load<usize>(m.slots + <usize>i * SLOT, 8);
    if (value != 0) each(value);
  }
}

/** Frees the slots; the map is empty afterwards. */
export function mapFree(m: HashMap): void {
  if (m.bits != 0) free(m.slots, <usize>SLOT << m.bits);
  mapInit(m);
}
