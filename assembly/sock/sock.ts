/**
 * AF_UNIX sockets of a socketpair (net/unix/af_unix.c): the socket, its
 * receive queue of buffers, the send-buffer accounting, and release.
 *
 *   Sock = type, peer (unix_peer), shutdown bits, pending error (sk_err),
 *          sk_sndbuf, sk_rcvbuf, wmem (sk_wmem_alloc: what this socket sent
 *          that is still queued at its peer), the receive queue, sleepers
 *
 *   Skb  = [next | sender | len | consumed | truesize] then the bytes
 *
 * A socket lives while its file, its peer's unix_peer pointer or one of its
 * buffers still queued somewhere refers to it (refs), as a struct sock lives
 * on its refcount and sk_wmem_alloc.
 *
 * Send-buffer accounting follows the kernel's skb->truesize on x86_64 with
 * SLUB (see truesizeOf): the head's kmalloc size class, struct sk_buff, and
 * the pages of a buffer's fragments, so as many buffers fit under SO_SNDBUF
 * as on Linux 6.x (checked against it for sizes from 0 to 50000 bytes).
 *
 * All of a socket's sleepers (receivers, senders waiting for room, pollers)
 * share one list, as they share sk_wq; every change wakes them all and each
 * re-checks, except that senders are woken by freed room only once the
 * socket is writable (unix_write_space).
 */

import { alloc, allocZeroed, free } from '../mem/alloc';
import { sockUnbound } from '../pipe/fifo';
import { abstractRelease } from './abstract';
import { listRemove, wake, Waiter, WaitList } from '../wait/waiters';

export const SOCK_STREAM: i32 = 1;
export const SOCK_DGRAM: i32 = 2;
export const SOCK_SEQPACKET: i32 = 5;

/** sk_shutdown bits. */
export const RCV_SHUTDOWN: i32 = 1;
export const SEND_SHUTDOWN: i32 = 2;
export const SHUTDOWN_MASK: i32 = 3;

/** net.core.wmem_default / rmem_default, and the _max that caps SO_SNDBUF / SO_RCVBUF. */
export const WMEM_DEFAULT: i32 = 212992;
export const WMEM_MAX: i32 = 212992;
export const RMEM_MAX: i32 = 212992;
/** SOCK_MIN_SNDBUF, SOCK_MIN_RCVBUF: 2 × (2048 + SKB_TRUESIZE's sk_buff) and 2048 + it. */
export const SOCK_MIN_SNDBUF: i32 = 4608;
export const SOCK_MIN_RCVBUF: i32 = 2304;
/** SKB_DATA_ALIGN(sizeof(struct skb_shared_info)), SKB_DATA_ALIGN(sizeof(struct sk_buff)). */
const SHINFO: u32 = 320;
const SKBUFF: u32 = 256;
/** SKB_MAX_HEAD(0): the most a stream buffer keeps in its head; SKB_MAX_ALLOC for a datagram's. */
const STREAM_HEAD_MAX: u32 = 4096 - SHINFO;
const DGRAM_HEAD_MAX: u32 = 16384 - SHINFO;
/** MAX_SKB_FRAGS pages. */
const FRAGS_MAX: u32 = 17 * 4096;

// @ts-ignore: decorator
@inline function pageAlign(n: u32): u32 {
  return (n + 4095) & ~4095;
}

/** ksize() of a kmalloc of `n` bytes: SLUB's classes up to 8 KiB, whole pages (a power of two of them) above. */
function kmallocSize(n: u32): u32 {
  if (n <= 8) return 8;
  if (n > 64 && n <= 96) return 96;
  if (n > 128 && n <= 192) return 192;
  if (n > 8192) return <u32>4096 << (32 - <u32>clz((n - 1) >> 12));
  return <u32>1 << (32 - <u32>clz(n - 1));
}

/**
 * skb->truesize of a buffer of `len` bytes as af_unix allocates it: the
 * head (kmalloc of SKB_DATA_ALIGN(head) + shared info) plus struct sk_buff,
 * plus the fragment pages, which hold what passes SKB_MAX_HEAD(0) on a
 * stream and SKB_MAX_ALLOC on a datagram socket (page-aligned).
 */
function truesizeOf(len: u32, stream: bool): u32 {
  let frags: u32 = 0;
  if (stream) {
    if (len > STREAM_HEAD_MAX) {
      frags = pageAlign(len - STREAM_HEAD_MAX);
      if (frags > len) frags = len;
    }
  } else if (len > DGRAM_HEAD_MAX) {
    const rest = len - DGRAM_HEAD_MAX;
    frags = pageAlign(rest < FRAGS_MAX ? rest : FRAGS_MAX);
  }
  const head = len - frags;
  return kmallocSize(((head + 63) & ~63) + SHINFO) + SKBUFF + pageAlign(frags);
}

@unmanaged
export class Sock {
  type: i32;
  refs: i32;
  /** unix_peer(): the other socket of the pair, until a datagram socket finds it dead (then 0). */
  peer: usize;
  dead: bool;
  /** TCP_ESTABLISHED (1) or TCP_CLOSE (7, a disconnected datagram socket). */
  state: i32;
  shutdown: i32;
  /** sk_err: reported once (sock_error). */
  err: i32;
  sndbuf: i32;
  rcvbuf: i32;
  /** Truesize of this socket's buffers still queued at the peer. */
  wmem: u32;
  qHead: usize;
  qTail: usize;
  /** Unread bytes queued (unix_inq_len for stream and seqpacket). */
  qBytes: u32;
  wHead: usize;
  wTail: usize;
  /** The socket file it is bound to (a FifoNode of kind NODE_SOCK), or 0. */
  node: usize;
  /** unix_sk(sk)->addr: the name as bind was given it (an Addr), shared with the connections a listener accepts; 0 unnamed. */
  addr: usize;
  /** Holds an abstract name (abstract.ts), linked through nameNext. */
  holdsName: bool;
  nameNext: usize;
  /** sk_max_ack_backlog of a listener. */
  backlog: i32;
  /** A listener's connections not yet accepted (server-side socks, linked by `anext`), and their count. */
  aHead: usize;
  aTail: usize;
  aLen: i32;
  anext: usize;
  /** unix_sk(sk)->peer_wait: connects waiting for room in this listener's queue, datagram sends for room in this receiver's. */
  pwHead: usize;
  pwTail: usize;
  /** Buffers in the receive queue (skb_queue_len): a datagram receiver is full above `backlog`. */
  qLen: i32;
  /** The peer_wait relays on this socket (linked through relayNext, newest first), and the socket this one's relay is on. */
  relays: usize;
  relayOn: usize;
  relayNext: usize;
}

/** net.unix.max_dgram_qlen: every socket's sk_max_ack_backlog until listen(2) sets its own. */
export const MAX_DGRAM_QLEN: i32 = 10;

export const TCP_ESTABLISHED: i32 = 1;
export const TCP_CLOSE: i32 = 7;
export const TCP_LISTEN: i32 = 10;

@unmanaged
export class Skb {
  next: usize;
  sender: usize;
  len: u32;
  /** UNIXCB(skb).consumed: bytes of a stream buffer already read. */
  consumed: u32;
  truesize: u32;
  pad: u32;
}

export const SKB_HEAD: usize = offsetof<Skb>();

// @ts-ignore: decorator
@inline export function sleepers(s: Sock): WaitList {
  return changetype<WaitList>(changetype<usize>(s) + offsetof<Sock>('wHead'));
}

// @ts-ignore: decorator
@inline export function skbData(b: Skb): usize {
  return changetype<usize>(b) + SKB_HEAD;
}

/** unix_skb_len(): what is left to read of a buffer. */
// @ts-ignore: decorator
@inline export function skbLeft(b: Skb): u32 {
  return b.len - b.consumed;
}

/** A new connected socket (refs: its file), or null when memory is exhausted. */
export function newSock(type: i32): Sock | null {
  // every field not set here starts at 0: no peer, no name, empty queues and wait lists
  const s = changetype<Sock>(allocZeroed(offsetof<Sock>()));
  if (changetype<usize>(s) == 0) return null;
  s.type = type;
  s.refs = 1;
  s.state = TCP_ESTABLISHED;
  s.sndbuf = WMEM_DEFAULT;
  s.rcvbuf = WMEM_DEFAULT;
  s.backlog = MAX_DGRAM_QLEN;
  return s;
}

// @ts-ignore: decorator
@inline export function peerWaiters(s: Sock): WaitList {
  return changetype<WaitList>(changetype<usize>(s) + offsetof<Sock>('pwHead'));
}

/**
 * wake_up_interruptible_all(&u->peer_wait): the relays (at the list's
 * head), then every waiting connect or datagram send.
 */
export function wakePeerWaiters(s: Sock): void {
  fireRelays(s);
  let cur = s.pwHead;
  while (cur != 0) {
    const w = changetype<Waiter>(cur);
    cur = w.next;
    listRemove(w);
    wake(w);
  }
}

/**
 * wake_up_interruptible_sync_poll(&u->peer_wait) after a datagram receive:
 * the relays, then one waiting sender (they wait exclusively).
 */
export function wakeOnePeerWaiter(s: Sock): void {
  fireRelays(s);
  if (s.pwHead != 0) {
    const w = changetype<Waiter>(s.pwHead);
    listRemove(w);
    wake(w);
  }
}

/** unix_recvq_full_lockless(). */
// @ts-ignore: decorator
@inline export function recvqFull(s: Sock): bool {
  return s.qLen > s.backlog;
}

/**
 * unix_dgram_peer_wake_connect(): the relay of `s` goes on the peer_wait of
 * `other`, unless it is on one already; answers whether it went on now.
 */
export function relayConnect(s: Sock, other: Sock): bool {
  if (s.relayOn != 0) return false;
  s.relayOn = changetype<usize>(other);
  s.relayNext = other.relays;
  other.relays = changetype<usize>(s);
  return true;
}

/** unix_dgram_peer_wake_disconnect(): the relay of `s` leaves the peer_wait of `other`, if it is there. */
export function relayDisconnect(s: Sock, other: Sock): void {
  if (s.relayOn != changetype<usize>(other)) return;
  let prev: usize = 0;
  let cur = other.relays;
  while (cur != changetype<usize>(s)) {
    prev = cur;
    cur = changetype<Sock>(cur).relayNext;
  }
  if (prev == 0) other.relays = s.relayNext;
  else changetype<Sock>(prev).relayNext = s.relayNext;
  s.relayOn = 0;
  s.relayNext = 0;
}

/** unix_dgram_peer_wake_relay() for every relay on `s`: each leaves, and its socket's sleepers are woken. */
function fireRelays(s: Sock): void {
  while (s.relays != 0) {
    const r = changetype<Sock>(s.relays);
    s.relays = r.relayNext;
    r.relayOn = 0;
    r.relayNext = 0;
    wakeSock(r);
  }
}

export function sockPut(s: Sock): void {
  if (--s.refs != 0) return;
  // the name lives as long as the socket: a peer's getpeername reads it after this one closed
  if (s.addr != 0) addrPut(s.addr);
  free(changetype<usize>(s), offsetof<Sock>());
}

/**
 * struct unix_address: a name's bytes as bind(2) was given them, with a
 * count of the sockets that carry it (a listener and what it accepted).
 *   refs: i32, len: u32, then len bytes
 */
const ADDR_HEAD: usize = 8;

/** A new name holding `len` bytes from `src` (one reference), or 0 when memory is exhausted. */
export function addrNew(src: usize, len: u32): usize {
  const a = alloc(ADDR_HEAD + <usize>len);
  if (a == 0) return 0;
  store<i32>(a, 1);
  store<u32>(a, len, 4);
  memory.copy(a + ADDR_HEAD, src, <usize>len);
  return a;
}

export function addrGet(a: usize): usize {
  store<i32>(a, load<i32>(a) + 1);
  return a;
}

export function addrPut(a: usize): void {
  const refs = load<i32>(a) - 1;
  if (refs == 0) free(a, ADDR_HEAD + <usize>load<u32>(a, 4));
  else store<i32>(a, refs);
}

/** Copies the name of `s` to `dst`; answers its length (0: unnamed). */
export function addrCopy(s: Sock, dst: usize): u32 {
  const a = s.addr;
  if (a == 0) return 0;
  const len = load<u32>(a, 4);
  memory.copy(dst, a + ADDR_HEAD, <usize>len);
  return len;
}

/** The length of the name of `s` (0: unnamed). */
export function addrLen(s: Sock): u32 {
  return s.addr == 0 ? 0 : load<u32>(s.addr, 4);
}

/** Wakes every sleeper of the socket to re-check (sock_def_wakeup, sock_def_readable). */
export function wakeSock(s: Sock): void {
  let cur = s.wHead;
  while (cur != 0) {
    const w = changetype<Waiter>(cur);
    cur = w.next;
    listRemove(w);
    wake(w);
  }
}

/** unix_writable(): sk_wmem_alloc (which starts at 1) × 4 within sk_sndbuf. */
// @ts-ignore: decorator
@inline export function writable(s: Sock): bool {
  return (<i64>(s.wmem + 1) << 2) <= <i64>s.sndbuf;
}

/** A buffer of `len` bytes sent by `sender` (it holds a reference and counts in its wmem), or null. */
export function newSkb(sender: Sock, len: u32): Skb | null {
  const truesize = truesizeOf(len, sender.type == SOCK_STREAM);
  const b = changetype<Skb>(alloc(SKB_HEAD + <usize>len));
  if (changetype<usize>(b) == 0) return null;
  b.next = 0;
  b.sender = changetype<usize>(sender);
  b.len = len;
  b.consumed = 0;
  b.truesize = truesize;
  sender.wmem += b.truesize;
  sender.refs++;
  return b;
}

/** kfree_skb(): the sender's room comes back (sock_wfree: unix_write_space wakes it once writable). */
export function freeSkb(b: Skb): void {
  const sender = changetype<Sock>(b.sender);
  sender.wmem -= b.truesize;
  free(changetype<usize>(b), SKB_HEAD + <usize>b.len);
  if (writable(sender)) wakeSock(sender);
  sockPut(sender);
}

export function enqueue(s: Sock, b: Skb): void {
  if (s.qTail != 0) changetype<Skb>(s.qTail).next = changetype<usize>(b);
  else s.qHead = changetype<usize>(b);
  s.qTail = changetype<usize>(b);
  s.qBytes += b.len;
  s.qLen++;
}

/** Takes the head buffer off the queue (the caller frees it). */
export function dequeue(s: Sock): Skb {
  const b = changetype<Skb>(s.qHead);
  s.qHead = b.next;
  if (s.qHead == 0) s.qTail = 0;
  s.qBytes -= skbLeft(b);
  s.qLen--;
  return b;
}

/** skb_queue_purge(). */
export function purge(s: Sock): void {
  while (s.qHead != 0) freeSkb(dequeue(s));
}

/**
 * unix_release_sock(): the socket is dead and shut both ways, its name
 * (if bound) no longer leads to it; a listener releases its unaccepted
 * connections (embryos); a stream or seqpacket peer is shut both ways too
 * (ECONNRESET pending if this socket leaves unread data or was an embryo)
 * and woken; a datagram peer keeps pointing at it until
 * its next send finds it dead. The receive queue is thrown away.
 */
export function releaseSock(s: Sock, embryo: bool): void {
  s.dead = true;
  if (s.node != 0) {
    sockUnbound(s.node);
    s.node = 0;
  }
  abstractRelease(s);
  if (s.state == TCP_LISTEN) {
    // a listener's unaccepted connections go too: each one's client sees ECONNRESET
    while (s.aHead != 0) {
      const e = changetype<Sock>(s.aHead);
      s.aHead = e.anext;
      e.anext = 0;
      releaseSock(e, true);
    }
    s.aTail = 0;
    s.aLen = 0;
    wakePeerWaiters(s);
  } else {
    wakePeerWaiters(s); // datagram senders waiting for room here, and the relays
  }
  s.shutdown = SHUTDOWN_MASK;
  const peer = s.peer;
  s.peer = 0;
  wakeSock(s);
  if (peer != 0) {
    const other = changetype<Sock>(peer);
    if (s.type != SOCK_DGRAM) {
      other.shutdown = SHUTDOWN_MASK;
      // unread data left behind is ECONNRESET; a head buffer with nothing left to read (a consumed
      // out-of-band byte's, or an empty record) is passed over first, as Linux 6.18 does
      let b = s.qHead;
      if (b != 0 && skbLeft(changetype<Skb>(b)) == 0) b = changetype<Skb>(b).next;
      if (b != 0 || embryo) other.err = 104; // ECONNRESET
    }
    wakeSock(other);
    relayDisconnect(s, other);
    sockPut(other);
  }
  purge(s);
  sockPut(s);
}
