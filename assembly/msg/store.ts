/**
 * How a queue holds its messages so that every msgrcv selection is found
 * without scanning the queue (Linux's find_msg walks the whole list):
 *
 *   - one FIFO of all messages in arrival order (Msg.next/prev): msgtyp 0,
 *     MSG_EXCEPT and MSG_COPY's index walk it;
 *   - per type, a FIFO of that type's messages (Msg.tnext) under a TypeNode,
 *     found through a hash map: msgtyp > 0 takes its head;
 *   - a min-heap of the TypeNodes that hold messages, by type: msgtyp < 0
 *     takes the head of the top node when its type is ≤ |msgtyp| (the lowest
 *     type present, oldest first, is exactly what find_msg's narrowing finds).
 *
 * Every message leaves from the head of its type's FIFO: the oldest message
 * of any selection is also the oldest of its own type. So the per-type FIFOs
 * are singly linked and removal is O(1) plus O(log types) for the heap.
 *
 *   Msg:      [ next | prev | tnext | node | mtype i64 | size u32 | pad ] text...
 *   TypeNode: [ mtype i64 | head | tail | heapIdx ]
 */

import { alloc, free } from '../mem/alloc';
import { HashMap, mapDelete, mapEach, mapFree, mapGet, mapInit, mapInsert, mapReserve } from '../util/hashmap';
import { MsgQueue } from './queue';

export const SEARCH_ANY: i32 = 1;
export const SEARCH_EQUAL: i32 = 2;
export const SEARCH_NOTEQUAL: i32 = 3;
export const SEARCH_LESSEQUAL: i32 = 4;
export const SEARCH_NUMBER: i32 = 5;

@unmanaged
export class Msg {
  next: usize;
  prev: usize;
  tnext: usize;
  node: usize;
  mtype: i64;
  /** m_ts: the text's length. */
  size: u32;
  _pad: u32;
}

/** Where a message's text starts. */
export const MSG_HDR: usize = offsetof<Msg>();

@unmanaged
class TypeNode {
  mtype: i64;
  head: usize;
  tail: usize;
  heapIdx: i32;
}

// @ts-ignore: decorator
@inline function typeMap(q: MsgQueue): HashMap {
  return changetype<HashMap>(changetype<usize>(q) + offsetof<MsgQueue>('tmapSlots'));
}

export function storeInit(q: MsgQueue): void {
  q.head = 0;
  q.tail = 0;
  mapInit(typeMap(q));
  q.heap = 0;
  q.heapLen = 0;
  q.heapCap = 0;
  q.spare = 0;
  q.lastNode = 0;
}

/** A message of `len` bytes of text (uninitialised), or null when memory is exhausted. */
export function allocMsg(len: u32, mtype: i64): Msg | null {
  const m = changetype<Msg | null>(alloc(MSG_HDR + <usize>len));
  if (m === null) return null;
  m.mtype = mtype;
  m.size = len;
  return m;
}

// @ts-ignore: decorator
@inline export function freeMsg(m: Msg): void {
  free(changetype<usize>(m), MSG_HDR + <usize>m.size);
}

/** The text of a message. */
// @ts-ignore: decorator
@inline export function msgText(m: Msg): usize {
  return changetype<usize>(m) + MSG_HDR;
}

/**
 * The TypeNode for `mtype` (to pass to enqueue), created empty if needed,
 * with room reserved so that enqueueing a message of this type cannot fail;
 * 0 when memory is exhausted. Call before the point where a send can no
 * longer fail.
 */
// @ts-ignore: decorator
@inline export function reserveType(q: MsgQueue, mtype: i64): usize {
  // the type sent last is the one most often sent next
  const last = q.lastNode;
  if (last != 0 && changetype<TypeNode>(last).mtype == mtype) return last;
  return reserveTypeSlow(q, mtype);
}

function reserveTypeSlow(q: MsgQueue, mtype: i64): usize {
  const map = typeMap(q);
  const known = mapGet(map, mtype);
  if (known != 0) {
    q.lastNode = known;
    return known;
  }
  if (!mapReserve(map)) return 0;
  // every node that holds messages is in the heap: room for all of them
  if (q.heapCap < <i32>map.count + 1) {
    const cap = q.heapCap == 0 ? 8 : q.heapCap << 1;
    const grown = alloc(<usize>cap * sizeof<usize>());
    if (grown == 0) return 0;
    if (q.heapLen != 0) memory.copy(grown, q.heap, <usize>q.heapLen * sizeof<usize>());
    if (q.heap != 0) free(q.heap, <usize>q.heapCap * sizeof<usize>());
    q.heap = grown;
    q.heapCap = cap;
  }
  const n = changetype<TypeNode | null>(alloc(offsetof<TypeNode>()));
  if (n === null) return 0;
  n.mtype = mtype;
  n.head = 0;
  n.tail = 0;
  n.heapIdx = -1;
  mapInsert(map, mtype, changetype<usize>(n));
  keepEmpty(q, n);
  q.lastNode = changetype<usize>(n);
  return changetype<usize>(n);
}

/** A node left empty becomes the queue's spare; the previous spare goes. */
// @ts-ignore: decorator
@inline function keepEmpty(q: MsgQueue, n: TypeNode): void {
  if (q.spare == 0) q.spare = changetype<usize>(n);
  else if (q.spare != changetype<usize>(n)) replaceSpare(q, n);
}

function replaceSpare(q: MsgQueue, n: TypeNode): void {
  if (q.spare != 0) {
    const old = changetype<TypeNode>(q.spare);
    mapDelete(typeMap(q), old.mtype);
    if (q.lastNode == q.spare) q.lastNode = 0;
    free(q.spare, offsetof<TypeNode>());
  }
  q.spare = changetype<usize>(n);
}

/** Appends a message; `node` is what reserveType(q, m.mtype) answered, with the index unchanged since. */
// @ts-ignore: decorator
@inline export function enqueue(q: MsgQueue, m: Msg, node: usize): void {
  const n = changetype<TypeNode>(node);
  if (!ASC_NO_ASSERT) assert(node != 0 && node == mapGet(typeMap(q), m.mtype), 'enqueue without reserveType');
  m.node = changetype<usize>(n);
  m.tnext = 0;
  if (n.tail != 0) {
    changetype<Msg>(n.tail).tnext = changetype<usize>(m);
  } else {
    n.head = changetype<usize>(m);
    if (q.spare == changetype<usize>(n)) q.spare = 0;
    heapPush(q, n);
  }
  n.tail = changetype<usize>(m);
  m.next = 0;
  m.prev = q.tail;
  if (q.tail != 0) changetype<Msg>(q.tail).next = changetype<usize>(m);
  else q.head = changetype<usize>(m);
  q.tail = changetype<usize>(m);
}

/** Takes a message off the queue. Precondition: it heads its type's FIFO (every selection finds such a one). */
// @ts-ignore: decorator
@inline export function unlink(q: MsgQueue, m: Msg): void {
  if (m.prev != 0) changetype<Msg>(m.prev).next = m.next;
  else q.head = m.next;
  if (m.next != 0) changetype<Msg>(m.next).prev = m.prev;
  else q.tail = m.prev;
  const n = changetype<TypeNode>(m.node);
  if (!ASC_NO_ASSERT) assert(n.head == changetype<usize>(m), 'unlink of a message that is not the oldest of its type');
  n.head = m.tnext;
  if (n.head == 0) {
    n.tail = 0;
    heapRemove(q, n);
    keepEmpty(q, n);
  }
}

/** testmsg(). */
// @ts-ignore: decorator
@inline export function testMsg(m: Msg, msgtyp: i64, mode: i32): bool {
  switch (mode) {
    case SEARCH_ANY:
    case SEARCH_NUMBER: return true;
    case SEARCH_LESSEQUAL: return m.mtype <= msgtyp;
    case SEARCH_EQUAL: return m.mtype == msgtyp;
    case SEARCH_NOTEQUAL: return m.mtype != msgtyp;
  }
  return false;
}

/** find_msg(): the message a receive with (msgtyp, mode) takes, or null. */
// @ts-ignore: decorator
@inline export function findMsg(q: MsgQueue, msgtyp: i64, mode: i32): Msg | null {
  if (mode == SEARCH_ANY) return changetype<Msg | null>(q.head);
  if (mode == SEARCH_EQUAL) {
    // the type sent last is the one most often asked for
    const last = q.lastNode;
    if (last != 0 && changetype<TypeNode>(last).mtype == msgtyp) return changetype<Msg | null>(changetype<TypeNode>(last).head);
  }
  return findMsgSlow(q, msgtyp, mode);
}

function findMsgSlow(q: MsgQueue, msgtyp: i64, mode: i32): Msg | null {
  switch (mode) {
    case SEARCH_ANY:
      return changetype<Msg | null>(q.head);
    case SEARCH_EQUAL: {
      const n = changetype<TypeNode | null>(mapGet(typeMap(q), msgtyp));
      return n === null ? null : changetype<Msg | null>(n.head);
    }
    case SEARCH_LESSEQUAL: {
      if (q.heapLen == 0) return null;
      const top = changetype<TypeNode>(load<usize>(q.heap));
      return top.mtype <= msgtyp ? changetype<Msg>(top.head) : null;
    }
    case SEARCH_NOTEQUAL: {
      // the oldest message of another type: past the leading run of type msgtyp
      let m = q.head;
      while (m != 0 && changetype<Msg>(m).mtype == msgtyp) m = changetype<Msg>(m).next;
      return changetype<Msg | null>(m);
    }
    case SEARCH_NUMBER: {
      // MSG_COPY: msgtyp is a 0-based index; a negative one matches nothing
      if (msgtyp < 0) return null;
      let m = q.head;
      for (let i: i64 = 0; m != 0 && i < msgtyp; i++) m = changetype<Msg>(m).next;
      return changetype<Msg | null>(m);
    }
  }
  return null;
}

/** Frees every message and the index; the queue is being destroyed. */
export function storeFree(q: MsgQueue): void {
  let m = q.head;
  while (m != 0) {
    const next = changetype<Msg>(m).next;
    freeMsg(changetype<Msg>(m));
    m = next;
  }
  mapEach(typeMap(q), freeNode);
  mapFree(typeMap(q));
  if (q.heap != 0) free(q.heap, <usize>q.heapCap * sizeof<usize>());
  storeInit(q);
}

function freeNode(n: usize): void {
  free(n, offsetof<TypeNode>());
}

// --- the min-heap of types present ----------------------------------------

// @ts-ignore: decorator
@inline function heapAt(q: MsgQueue, i: i32): TypeNode {
  return changetype<TypeNode>(load<usize>(q.heap + <usize>i * sizeof<usize>()));
}

// @ts-ignore: decorator
@inline function heapSet(q: MsgQueue, i: i32, n: TypeNode): void {
  store<usize>(q.heap + <usize>i * sizeof<usize>(), changetype<usize>(n));
  n.heapIdx = i;
}

// Inline: a pair on an empty queue pushes onto and removes from an empty heap's end.
// @ts-ignore: decorator
@inline function heapPush(q: MsgQueue, n: TypeNode): void {
  if (!ASC_NO_ASSERT) assert(q.heapLen < q.heapCap, 'heap without room');
  const i = q.heapLen++;
  heapSet(q, i, n);
  if (i > 0) siftUp(q, i);
}

// @ts-ignore: decorator
@inline function heapRemove(q: MsgQueue, n: TypeNode): void {
  const i = n.heapIdx;
  const last = --q.heapLen;
  n.heapIdx = -1;
  if (i != last) heapFill(q, i, last);
}

/** Moves the heap's last node into the hole at i and restores the order. */
function heapFill(q: MsgQueue, i: i32, last: i32): void {
  const moved = heapAt(q, last);
  heapSet(q, i, moved);
  if (i > 0 && moved.mtype < heapAt(q, (i - 1) >> 1).mtype) siftUp(q, i);
  else siftDown(q, i);
}

function siftUp(q: MsgQueue, i: i32): void {
  const n = heapAt(q, i);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const p = heapAt(q, parent);
    if (p.mtype <= n.mtype) break;
    heapSet(q, i, p);
    i = parent;
  }
  heapSet(q, i, n);
}

function siftDown(q: MsgQueue, i: i32): void {
  const n = heapAt(q, i);
  const len = q.heapLen;
  for (;;) {
    let child = (i << 1) + 1;
    if (child >= len) break;
    if (child + 1 < len && heapAt(q, child + 1).mtype < heapAt(q, child).mtype) child++;
    const c = heapAt(q, child);
    if (n.mtype <= c.mtype) break;
    heapSet(q, i, c);
    i = child;
  }
  heapSet(q, i, n);
}
