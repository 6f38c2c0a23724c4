/**
 * Sending and receiving on a socket of a pair: af_unix.c's
 * unix_stream_sendmsg, unix_dgram_sendmsg (and unix_seqpacket_sendmsg),
 * unix_stream_read_generic, __unix_dgram_recvmsg, with the waits of
 * sock_alloc_send_pskb and __skb_wait_for_more_packets; read(2) and write(2)
 * on a socket are recv and send without flags (sock_read_iter: a read of 0
 * bytes answers 0 at once). Also poll (unix_poll, unix_dgram_poll) and
 * FIONREAD (unix_inq_len).
 *
 * As in pipe/io.ts, a pass runs until it would sleep (WOULD_BLOCK); a
 * sleeping send owns a copy of its unsent bytes, and a receive's bytes go
 * to a block its completion points at.
 */

import { C_AUX, C_AUX2, C_TOKEN, cellAddr, reserveStage, retire, RETIRED_HEAD, segAdd, segDone, segReset, stage } from '../abi';
import {
  EAGAIN, EBADF, ECONNREFUSED, ECONNRESET, EINVAL, EISCONN, EMSGSIZE, ENOMEM, ENOTCONN, ENOTSOCK, EOPNOTSUPP, EPERM, EPIPE,
} from '../errno';
import { File, fget, FILE_SOCK, fput, O_NONBLOCK } from '../fd/file';
import { adopt, registerAdopt, REST_HEAD } from '../fd/restart';
import { fdFile } from '../fd/table';
import { alloc, copyBytes, free } from '../mem/alloc';
import { Process } from '../proc/process';
import {
  cancel, complete, INTR_CANCELLED, INTR_COMPLETED, INTR_SLEEPING, listAppend, listRemove, park, PENDING, registerKind,
  setInterruptHook, Waiter, WaitList,
} from '../wait/waiters';
import { findOther, NAMED } from './abstract';
import {
  addrCopy, dequeue, enqueue, freeSkb, newSkb, peerWaiters, purge, RCV_SHUTDOWN, recvqFull, relayConnect, relayDisconnect, SEND_SHUTDOWN,
  SHUTDOWN_MASK, Skb, skbData, skbLeft, sleepers, Sock, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_STREAM, sockPut, TCP_CLOSE,
  TCP_ESTABLISHED, TCP_LISTEN, wakeOnePeerWaiter, wakePeerWaiters, wakeSock, writable,
} from './sock';

export const MSG_OOB: i32 = 0x1;
export const MSG_PEEK: i32 = 0x2;
export const MSG_TRUNC: i32 = 0x20;
export const MSG_DONTWAIT: i32 = 0x40;
export const MSG_WAITALL: i32 = 0x100;

const WOULD_BLOCK: i32 = -0x10001;
const OP_RECV: i32 = 0;
const OP_SEND: i32 = 1;
/** arg2 of a sleeping sendto: a name follows its bytes (its length and lookup bits above the fd). */
const NAME_GIVEN: i32 = 0x40;
const NAME_LEN_SHIFT: i32 = 18;
const NAME_HOW_SHIFT: i32 = 25;
/** arg2 of a sleeping recvfrom: its completion names the sender (the name behind the bytes, its length in b). */
const WANT_FROM: i32 = 0x20;
/** Room for a sender's name (sun_path) behind a recvfrom's bytes. */
const FROM_ROOM: usize = 112;
/** read(2) / write(2) rather than recv / send (arg2): a restart on another kind of file goes there. */
const VIA_RW: i32 = 0x80;
/** SKB_MAX_HEAD(0) + UNIX_SKB_FRAGS_SZ: the most one stream buffer holds. */
const STREAM_SKB_MAX: i32 = 3776 + 32768;

// poll bits
const POLLIN: i32 = 0x001;
const POLLOUT: i32 = 0x004;
const POLLERR: i32 = 0x008;
const POLLHUP: i32 = 0x010;
const POLLRDNORM: i32 = 0x040;
const POLLWRNORM: i32 = 0x100;
const POLLWRBAND: i32 = 0x200;
const POLLRDHUP: i32 = 0x2000;

let sockKind: i32 = -1;

export function initSockIo(): void {
  sockKind = registerKind(retrySock, releaseSock);
  setInterruptHook(sockKind, interruptSock);
  registerAdopt(FILE_SOCK, adoptSock);
}

/** sock_error(): the pending error, reported once. */
// @ts-ignore: decorator
@inline function sockError(s: Sock): i32 {
  const e = s.err;
  s.err = 0;
  return e;
}

// --- send -----------------------------------------------------------------

/** Progress of the last pass (bytes sent or copied), also when it answers WOULD_BLOCK. */
let progress: u32 = 0;
/**
 * Where a send that answered WOULD_BLOCK sleeps: 0 for its own socket's
 * list (waiting for room in its send buffer), else the datagram receiver
 * whose queue is full (its peer_wait).
 */
let sendWaitOn: usize = 0;

/** The name of the socket whose bytes the last receive pass read (recvfrom): fromLen bytes at fromBuf. */
let fromLen: u32 = 0;
const fromBuf = memory.data(112, 8);

/** unix_copy_addr(): the receive names the buffer's sender (its name now, as the kernel reads it). */
// @ts-ignore: decorator
@inline function noteSender(b: Skb): void {
  fromLen = addrCopy(changetype<Sock>(b.sender), fromBuf);
}

/**
 * sock_alloc_send_pskb()'s wait for room: a pending error, SEND_SHUTDOWN
 * (EPIPE), then room while sk_wmem_alloc is below sk_sndbuf; else EAGAIN or
 * WOULD_BLOCK. 0 when there is room.
 */
function waitForRoom(s: Sock, nonblock: bool): i32 {
  const e = sockError(s);
  if (e != 0) return -e;
  if ((s.shutdown & SEND_SHUTDOWN) != 0) return -EPIPE;
  if (<i64>s.wmem < <i64>s.sndbuf) return 0;
  return nonblock ? -EAGAIN : WOULD_BLOCK;
}

/**
 * unix_stream_sendmsg() from `sent` bytes on: buffers of at most
 * min(sndbuf / 2 - 64, SKB_MAX_HEAD + 32 KiB) bytes while there is room;
 * a dead or read-shut peer is EPIPE. Answers bytes sent if any, else -errno.
 */
function streamSend(s: Sock, src: usize, len: u32, sent: u32, start: bool, nonblock: bool): i32 {
  if (start) {
    if (s.peer == 0) return -ENOTCONN;
    if ((s.shutdown & SEND_SHUTDOWN) != 0) return -EPIPE;
  }
  let err: i32 = 0;
  while (sent < len) {
    let size = <i32>(len - sent);
    const half = (s.sndbuf >> 1) - 64;
    if (size > half) size = half;
    if (size > STREAM_SKB_MAX) size = STREAM_SKB_MAX;
    const room = waitForRoom(s, nonblock);
    if (room == WOULD_BLOCK) {
      progress = sent;
      return WOULD_BLOCK;
    }
    if (room < 0) {
      err = room;
      break;
    }
    const other = changetype<Sock>(s.peer);
    if (other.dead || (other.shutdown & RCV_SHUTDOWN) != 0) {
      err = -EPIPE;
      break;
    }
    const b = newSkb(s, <u32>size);
    if (b === null) {
      err = -ENOMEM;
      break;
    }
    copyBytes(skbData(b), src + sent, <usize>size);
    enqueue(other, b);
    wakeSock(other);
    sent += <u32>size;
  }
  progress = sent;
  return sent != 0 ? <i32>sent : err;
}

/**
 * unix_dgram_sendmsg() (and unix_seqpacket_sendmsg's checks first): the
 * size (EMSGSIZE), then the buffer for the whole message (a pending error,
 * SEND_SHUTDOWN, room), then the peer (ENOTCONN). A datagram peer found dead disconnects the
 * sender (ECONNREFUSED, its own queue dropped; later sends ENOTCONN); a
 * seqpacket one is EPIPE.
 */
function dgramSend(p: Process, s: Sock, src: usize, len: u32, start: bool, nonblock: bool, to: SendTo): i32 {
  if (start) {
    if (s.type == SOCK_SEQPACKET) {
      const e = sockError(s);
      if (e != 0) return -e;
      if (s.state != TCP_ESTABLISHED) return -ENOTCONN;
    }
    // unix_validate_addr(): a name with no path is EINVAL
    if (to.named && to.len == 0) return -EINVAL;
    if (<i64>len > <i64>s.sndbuf - 32) return -EMSGSIZE;
  }
  // the buffer is allocated (and room waited for) before the peer is looked up
  const room = waitForRoom(s, nonblock);
  if (room != 0) return room;
  let other: Sock;
  const held = to.held;
  if (held != 0 && !changetype<Sock>(held).dead) {
    other = changetype<Sock>(held); // the receiver it waited on (unix_dgram_sendmsg's `goto restart` keeps it)
  } else if (held != 0 && held != s.peer) {
    // it died while the send waited, and is not the peer: look again by name; a send has none (ECONNRESET)
    if (!to.named) return -ECONNRESET;
    const r = findOther(p, s.type, to.name, to.len, to.how);
    if (r < 0) return <i32>r;
    other = changetype<Sock>(<usize>r);
  } else if (to.named && held == 0) {
    const r = findOther(p, s.type, to.name, to.len, to.how);
    if (r < 0) return <i32>r;
    other = changetype<Sock>(<usize>r);
  } else {
    if (s.peer == 0) return -ENOTCONN;
    other = changetype<Sock>(s.peer);
  }
  // unix_may_send(): a receiver connected to another socket takes nothing from this one
  if (other.peer != 0 && other.peer != changetype<usize>(s)) return -EPERM;
  if (other.dead) {
    if (s.type == SOCK_SEQPACKET) return -EPIPE;
    s.peer = 0;
    s.state = TCP_CLOSE;
    relayDisconnect(s, other);
    wakeSock(s); // unix_dgram_peer_wake_disconnect_wakeup()
    dgramDisconnected(s, other);
    sockPut(other);
    return -ECONNREFUSED;
  }
  if ((other.shutdown & RCV_SHUTDOWN) != 0) return -EPIPE;
  // a receiver not connected back to the sender holds at most max_dgram_qlen + 1 datagrams
  if (other !== s && other.peer != changetype<usize>(s) && recvqFull(other)) {
    if (!nonblock) {
      sendWaitOn = changetype<usize>(other);
      return WOULD_BLOCK;
    }
    // unix_dgram_peer_wake_me(), for the peer only: a poll of this socket will hear when its queue has room
    if (other === changetype<Sock>(s.peer)) relayConnect(s, other);
    return -EAGAIN;
  }
  const b = newSkb(s, len);
  if (b === null) return -ENOMEM;
  copyBytes(skbData(b), src, <usize>len);
  enqueue(other, b);
  wakeSock(other);
  return <i32>len;
}

/**
 * unix_dgram_disconnected(): a datagram socket that leaves its peer drops
 * what it had received, wakes its peer_wait, and, if that peer was
 * connected back to it and lives, leaves it ECONNRESET.
 */
export function dgramDisconnected(s: Sock, other: Sock): void {
  if (s.qHead == 0) return;
  purge(s);
  wakePeerWaiters(s);
  if (!other.dead && other.peer == changetype<usize>(s)) {
    other.err = 104; // ECONNRESET
    wakeSock(other); // sk_error_report()
  }
}

/**
 * Where a datagram goes: sendto's name (`named`; `len` bytes at `name`,
 * looked up with `how`), else the peer; `held`, the receiver a sleeping
 * send waited on.
 */
@unmanaged
class SendTo {
  named: bool;
  name: usize;
  len: u32;
  how: i32;
  held: usize;
}

const target = changetype<SendTo>(memory.data(offsetof<SendTo>(), 8));

/** The target of a send: no name, nothing held. */
function toPeer(): SendTo {
  target.named = false;
  target.name = 0;
  target.len = 0;
  target.how = 0;
  target.held = 0;
  return target;
}

function sendPass(p: Process, s: Sock, src: usize, len: u32, sent: u32, start: bool, nonblock: bool, to: SendTo): i32 {
  sendWaitOn = 0;
  if (s.type == SOCK_STREAM) return streamSend(s, src, len, sent, start, nonblock);
  progress = 0;
  return dgramSend(p, s, src, len, start, nonblock, to);
}

/**
 * Whether an EPIPE that moved nothing comes with SIGPIPE: unix_stream_sendmsg()
 * sends it unless MSG_NOSIGNAL, which every send of this interface implies; so
 * only write(2) on a stream socket (dgram and seqpacket sends never signal).
 */
function sigpipeFor(s: Sock, via: i64): bool {
  return s.type == SOCK_STREAM && via != 0;
}

/** send(2) / write(2) of data[0, len) at `src`. PENDING when it sleeps (it keeps its unsent bytes). */
export function sockSend(p: Process, fd: i32, f: File, src: usize, len: u32, flags: i32): i32 {
  return sendCall(p, fd, f, src, len, flags, 0, toPeer());
}

/**
 * sendto(2): send with a name (`nameLen` bytes at `name`, looked up with
 * `how`; 0 bytes: an empty name). A stream socket refuses it (EISCONN when
 * connected, else EOPNOTSUPP); a seqpacket one ignores it.
 */
export function sockSendTo(p: Process, fd: i32, f: File, src: usize, len: u32, flags: i32, name: usize, nameLen: u32, how: i32): i32 {
  const s = changetype<Sock>(f.obj);
  if ((flags & MSG_OOB) != 0) return -EOPNOTSUPP;
  if (s.type == SOCK_STREAM) return s.state == TCP_ESTABLISHED ? -EISCONN : -EOPNOTSUPP;
  const to = toPeer();
  if (s.type == SOCK_DGRAM) {
    to.named = true;
    to.name = name;
    to.len = nameLen;
    to.how = how & ~NAMED;
  }
  return sendCall(p, fd, f, src, len, flags, 0, to);
}

function sendCall(p: Process, fd: i32, f: File, src: usize, len: u32, flags: i32, via: i32, to: SendTo): i32 {
  const s = changetype<Sock>(f.obj);
  if ((flags & MSG_OOB) != 0) return -EOPNOTSUPP;
  const nonblock = (flags & MSG_DONTWAIT) != 0 || (f.flags & O_NONBLOCK) != 0;
  const r = sendPass(p, s, src, len, 0, true, nonblock, to);
  if (r == -EPIPE && sigpipeFor(s, <i64>via)) p.sigpipes++;
  if (r != WOULD_BLOCK) return r;
  const sent = progress;
  const restBytes = <usize>(len - sent);
  // a sendto keeps its name behind its bytes, for the lookup after it has waited for room
  const nameBytes: usize = to.named ? <usize>to.len : 0;
  const rest = alloc(REST_HEAD + restBytes + nameBytes);
  if (rest == 0) return sent != 0 ? <i32>sent : -ENOMEM;
  const on = sendWaitOn;
  const w = park(sockKind, p, on != 0 ? peerWaiters(changetype<Sock>(on)) : sleepers(s), changetype<usize>(s));
  if (w === null) {
    free(rest, REST_HEAD + restBytes + nameBytes);
    return sent != 0 ? <i32>sent : -ENOMEM;
  }
  store<u32>(rest, <u32>restBytes);
  store<u32>(rest, sent, 4);
  store<u32>(rest, len, 8);
  memory.copy(rest + REST_HEAD, src + sent, restBytes);
  if (to.named) memory.copy(rest + REST_HEAD + restBytes, to.name, nameBytes);
  fget(f);
  w.block = changetype<usize>(f);
  if (on != 0) changetype<Sock>(on).refs++; // the list it sleeps on must outlive the wait
  w.arg0 = <i64>sent | (<i64>on << 32);
  w.arg1 = <i64>rest;
  w.arg2 = OP_SEND | via | (fd << 8) | (to.named ? NAME_GIVEN | (<i32>nameBytes << NAME_LEN_SHIFT) | (to.how << NAME_HOW_SHIFT) : 0);
  w.arg3 = flags;
  store<i32>(cellAddr(C_TOKEN), w.token);
  return PENDING;
}

// --- receive --------------------------------------------------------------

/** Bytes copied by the last receive pass (its answer may be a datagram's full length). */
let copiedOut: u32 = 0;

/**
 * unix_stream_read_generic(): reads across buffers until `count` or the
 * queue ends, and returns once it has the target (1 byte, or all of them
 * with MSG_WAITALL); an empty queue then answers a pending error, end of
 * file after SHUT_RD (the peer's SHUT_WR or close), EAGAIN, or WOULD_BLOCK.
 * MSG_PEEK copies without consuming and never waits once it has bytes.
 * Bytes go to dst + copied.
 */
function streamRecv(s: Sock, dst: usize, count: u32, flags: i32, copied: u32, nonblock: bool): i32 {
  if (s.state != TCP_ESTABLISHED) return -EINVAL;
  const target: u32 = (flags & MSG_WAITALL) != 0 ? (count != 0 ? count : 1) : 1;
  let size = count - copied;
  const peek = (flags & MSG_PEEK) != 0;
  let b = changetype<Skb>(s.qHead);
  let err: i32 = 0;
  do {
    if (changetype<usize>(b) == 0) {
      if (copied >= target) break;
      err = sockError(s);
      if (err != 0) {
        err = -err;
        break;
      }
      if ((s.shutdown & RCV_SHUTDOWN) != 0) break;
      if (nonblock) {
        err = -EAGAIN;
        break;
      }
      copiedOut = copied;
      return WOULD_BLOCK;
    }
    const left = skbLeft(b);
    const chunk = left < size ? left : size;
    noteSender(b);
    copyBytes(dst + copied, skbData(b) + b.consumed, <usize>chunk);
    copied += chunk;
    size -= chunk;
    if (peek) {
      b = changetype<Skb>(b.next);
      if (changetype<usize>(b) == 0) break;
      continue;
    }
    b.consumed += chunk;
    s.qBytes -= chunk;
    if (skbLeft(b) != 0) break;
    freeSkb(dequeue(s));
    b = changetype<Skb>(s.qHead);
  } while (size != 0);
  copiedOut = copied;
  return copied != 0 ? <i32>copied : err;
}

/**
 * __unix_dgram_recvmsg(): a pending error first, then the head message:
 * what fits is copied and the rest dropped (unless MSG_PEEK); the answer is
 * the bytes copied, or with MSG_TRUNC the message's length. An empty queue
 * answers EAGAIN (end of file for a read-shut seqpacket socket), or, for a
 * blocking call, end of file after SHUT_RD, else WOULD_BLOCK.
 */
function dgramRecv(s: Sock, dst: usize, count: u32, flags: i32, nonblock: bool): i32 {
  copiedOut = 0;
  if (s.type == SOCK_SEQPACKET && s.state != TCP_ESTABLISHED) return -ENOTCONN;
  const e = sockError(s);
  if (e != 0) return -e;
  if (s.qHead == 0) {
    if (nonblock) return s.type == SOCK_SEQPACKET && (s.shutdown & RCV_SHUTDOWN) != 0 ? 0 : -EAGAIN;
    if ((s.shutdown & RCV_SHUTDOWN) != 0) return 0;
    return WOULD_BLOCK;
  }
  const b = changetype<Skb>(s.qHead);
  const size = count < b.len ? count : b.len;
  noteSender(b);
  copyBytes(dst, skbData(b), <usize>size);
  copiedOut = size;
  const len = b.len;
  wakeOnePeerWaiter(s); // a sender waiting for room in this queue, and the relays
  if ((flags & MSG_PEEK) == 0) freeSkb(dequeue(s));
  return (flags & MSG_TRUNC) != 0 ? <i32>len : <i32>size;
}

/** The most a receive of `count` copies now. */
function receivable(s: Sock, count: u32, flags: i32, copied: u32): u32 {
  if (s.type == SOCK_STREAM) {
    const want = count - copied;
    return s.qBytes < want ? s.qBytes : want;
  }
  if (s.qHead == 0) return 0;
  const len = changetype<Skb>(s.qHead).len;
  return len < count ? len : count;
}

/**
 * recv(2) / read(2): bytes into the staging buffer (answer: the call's
 * return value; bytes copied in C_AUX), or PENDING. `plan`: the staging
 * buffer is then the one segment (readInto).
 */
export function sockRecv(p: Process, fd: i32, f: File, count: u32, flags: i32, plan: bool): i32 {
  return recvCall(p, fd, f, count, flags, plan, 0);
}

/**
 * recvfrom(2): sockRecv, and the name of the socket that sent what was read
 * behind the bytes in the staging buffer, its length in C_AUX2 (0: none).
 */
export function sockRecvFrom(p: Process, fd: i32, f: File, count: u32, flags: i32): i32 {
  return recvCall(p, fd, f, count, flags, false, WANT_FROM);
}

function recvCall(p: Process, fd: i32, f: File, count: u32, flags: i32, plan: bool, via: i32): i32 {
  const s = changetype<Sock>(f.obj);
  if ((flags & MSG_OOB) != 0) return -EOPNOTSUPP;
  const nonblock = (flags & MSG_DONTWAIT) != 0 || (f.flags & O_NONBLOCK) != 0;
  const n = receivable(s, count, flags, 0);
  const from = (via & WANT_FROM) != 0;
  if (!reserveStage(<usize>n + (from ? FROM_ROOM : 0))) return -ENOMEM;
  fromLen = 0;
  const r = s.type == SOCK_STREAM ? streamRecv(s, stage(), count, flags, 0, nonblock) : dgramRecv(s, stage(), count, flags, nonblock);
  store<i32>(cellAddr(C_AUX), <i32>copiedOut);
  if (from && r != WOULD_BLOCK) {
    memory.copy(stage() + <usize>copiedOut, fromBuf, <usize>fromLen);
    store<i32>(cellAddr(C_AUX2), <i32>fromLen);
  }
  if (plan) {
    segReset();
    if (r > 0) segAdd(stage(), copiedOut);
    segDone();
  }
  if (r != WOULD_BLOCK) return r;
  // a MSG_WAITALL receive may sleep with bytes already taken: they move to its own block
  const copied = copiedOut;
  let block: usize = 0;
  if (copied != 0) {
    const size = RETIRED_HEAD + <usize>count + (from ? FROM_ROOM : 0);
    block = alloc(size);
    if (block == 0) return <i32>copied;
    store<u32>(block, <u32>size);
    memory.copy(block + RETIRED_HEAD, stage(), <usize>copied);
  }
  const w = park(sockKind, p, sleepers(s), changetype<usize>(s));
  if (w === null) {
    if (block != 0) free(block, <usize>load<u32>(block));
    return copied != 0 ? <i32>copied : -ENOMEM;
  }
  fget(f);
  w.block = changetype<usize>(f);
  w.arg0 = (<i64>count << 32) | <i64>copied;
  w.arg1 = <i64>block;
  w.arg2 = OP_RECV | via | (fd << 8);
  w.arg3 = flags;
  store<i32>(cellAddr(C_TOKEN), w.token);
  return PENDING;
}

// --- sleepers -------------------------------------------------------------

/** A stream MSG_WAITALL receive keeps its bytes in a block of its full count from the first byte on. */
function recvBlock(w: Waiter, s: Sock, count: u32, copied: u32): usize {
  if (w.arg1 != 0) return <usize>w.arg1;
  const waitall = s.type == SOCK_STREAM && (w.arg3 & MSG_WAITALL) != 0;
  const room = (w.arg2 & WANT_FROM) != 0 ? FROM_ROOM : 0;
  const size = RETIRED_HEAD + <usize>(waitall ? count : receivable(s, count, w.arg3, copied)) + room;
  const block = alloc(size);
  if (block == 0) return 0;
  store<u32>(block, <u32>size); // its size, until retire() takes the word over
  w.arg1 = <i64>block;
  return block;
}

// @ts-ignore: decorator
@inline function opOf(w: Waiter): i32 {
  return w.arg2 & 0x1f;
}

/** A sleeping send's receiver (whose peer_wait it slept on) is let go: the reference taken when it went there. */
function leaveReceiver(w: Waiter): void {
  const on = <usize>(<u64>w.arg0 >> 32);
  if (on == 0) return;
  w.arg0 = <i64>(<u32>w.arg0);
  sockPut(changetype<Sock>(on));
}

// @ts-ignore: decorator
@inline function nameLenOf(w: Waiter): u32 {
  return (w.arg2 & NAME_GIVEN) != 0 ? <u32>(w.arg2 >>> NAME_LEN_SHIFT) & 0x7f : 0;
}

/** The send's next pass over its own copy of its bytes: true when it completed, false when it sleeps again (at the tail). */
function sendStep(w: Waiter, s: Sock, start: bool, nonblock: bool): bool {
  const rest = <usize>w.arg1;
  const base = rest + REST_HEAD - <usize>load<u32>(rest, 4);
  const to = toPeer();
  if ((w.arg2 & NAME_GIVEN) != 0) {
    to.named = true;
    to.name = rest + REST_HEAD + <usize>load<u32>(rest);
    to.len = nameLenOf(w);
    to.how = (w.arg2 >>> NAME_HOW_SHIFT) & 0x1f;
  }
  // the receiver it waited on stays referenced through the pass (a restart looks everything up again)
  const held: usize = start ? 0 : <usize>(<u64>w.arg0 >> 32);
  if (held != 0) changetype<Sock>(held).refs++;
  leaveReceiver(w);
  to.held = held;
  const r = sendPass(changetype<Process>(w.proc), s, base, load<u32>(rest, 8), <u32>w.arg0, start, nonblock, to);
  if (held != 0) sockPut(changetype<Sock>(held));
  if (r == -EPIPE && sigpipeFor(s, w.arg2 & VIA_RW)) changetype<Process>(w.proc).sigpipes++;
  if (r == WOULD_BLOCK) {
    const on = sendWaitOn;
    w.arg0 = <i64>progress | (<i64>on << 32);
    if (on != 0) {
      changetype<Sock>(on).refs++;
      listAppend(peerWaiters(changetype<Sock>(on)), w);
    } else {
      listAppend(sleepers(s), w);
    }
    return false;
  }
  complete(w, r, 0, 0, 0);
  return true;
}

/** The receive's next pass, into its block: true when it completed, false when it sleeps again (at the tail). */
function recvStep(w: Waiter, s: Sock, nonblock: bool): bool {
  const count = <u32>(w.arg0 >> 32);
  const copied = <u32>w.arg0;
  const block = recvBlock(w, s, count, copied);
  if (block == 0) {
    complete(w, copied != 0 ? <i32>copied : -ENOMEM, 0, 0, 0);
    return true;
  }
  const dst = block + RETIRED_HEAD;
  fromLen = 0;
  const r = s.type == SOCK_STREAM ? streamRecv(s, dst, count, w.arg3, copied, nonblock) : dgramRecv(s, dst, count, w.arg3, nonblock);
  if (r == WOULD_BLOCK) {
    w.arg0 = (<i64>count << 32) | <i64>copiedOut;
    if (copiedOut == 0 && !(s.type == SOCK_STREAM && (w.arg3 & MSG_WAITALL) != 0)) {
      free(block, <usize>load<u32>(block));
      w.arg1 = 0;
    }
    listAppend(sleepers(s), w);
    return false;
  }
  finishRecv(w, r, copiedOut);
  return true;
}

function retrySock(w: Waiter): void {
  const s = changetype<Sock>(w.obj);
  if (opOf(w) == OP_SEND) sendStep(w, s, false, false);
  else recvStep(w, s, false);
}

/**
 * Completes a receive with its answer and the block of its bytes (retired:
 * freed at the next call); a recvfrom's sender name follows the bytes, its
 * length in b.
 */
function finishRecv(w: Waiter, r: i32, copied: u32): void {
  const block = <usize>w.arg1;
  w.arg1 = 0;
  if (block == 0) {
    complete(w, r, 0, 0, 0);
    return;
  }
  let named: u32 = 0;
  if ((w.arg2 & WANT_FROM) != 0 && copied != 0) {
    // a stream's bytes all come from its peer (a partial MSG_WAITALL may end without a pass); a datagram's sender is the pass's
    const s = changetype<Sock>(w.obj);
    const at = block + RETIRED_HEAD + <usize>copied;
    if (s.type == SOCK_STREAM) {
      named = s.peer != 0 ? addrCopy(changetype<Sock>(s.peer), at) : 0;
    } else {
      named = fromLen;
      memory.copy(at, fromBuf, <usize>named);
    }
  }
  complete(w, r, <i32>copied, <i32>named, block + RETIRED_HEAD);
  retire(block, <usize>load<u32>(block));
}

function releaseSock(w: Waiter): void {
  if (opOf(w) == OP_SEND) {
    leaveReceiver(w);
    const rest = <usize>w.arg1;
    free(rest, REST_HEAD + <usize>load<u32>(rest) + <usize>nameLenOf(w));
  } else if (w.arg1 != 0) {
    const block = <usize>w.arg1;
    free(block, <usize>load<u32>(block));
  }
  fput(changetype<File>(w.block));
}

/**
 * A signal: a call that has moved bytes (a stream send, a MSG_WAITALL
 * receive) returns their count; one that has moved nothing fails with EINTR
 * or, under SA_RESTART, is made again from the start, as the kernel
 * restarts it: the descriptor looked up again (closed meanwhile: EBADF; no
 * socket: ENOTSOCK), O_NONBLOCK read again, and if it must sleep it goes to
 * the tail.
 */
function interruptSock(w: Waiter, restart: bool): i32 {
  const moved = <u32>w.arg0;
  const op = opOf(w);
  if (moved != 0) {
    if (op == OP_SEND) complete(w, <i32>moved, 0, 0, 0);
    else finishRecv(w, <i32>moved, moved);
    return INTR_COMPLETED;
  }
  if (!restart) {
    cancel(w);
    return INTR_CANCELLED;
  }
  listRemove(w);
  if (op == OP_SEND) leaveReceiver(w);
  const fd = (w.arg2 >> 8) & 0x3ff; // below RLIMIT_NOFILE; a sendto's name bits lie above
  const viaRw = (w.arg2 & VIA_RW) != 0;
  const now = fdFile(changetype<Process>(w.proc), fd);
  if (now === null || (viaRw && (now.fmode & (op == OP_SEND ? 2 : 1)) == 0)) {
    complete(w, -EBADF, 0, 0, 0);
    return INTR_COMPLETED;
  }
  if (now.kind != FILE_SOCK && !viaRw) {
    complete(w, -ENOTSOCK, 0, 0, 0);
    return INTR_COMPLETED;
  }
  const f = changetype<File>(w.block);
  if (now !== f) {
    fget(now);
    w.block = changetype<usize>(now);
    w.obj = now.obj;
    fput(f);
  }
  if (now.kind != FILE_SOCK) {
    // read(2) / write(2) restarted on a descriptor that names a pipe end now: it goes there
    const count = <u32>(w.arg0 >> 32);
    if (op == OP_RECV && w.arg1 != 0) {
      const block = <usize>w.arg1;
      free(block, <usize>load<u32>(block));
    }
    const rest = op == OP_SEND ? <usize>w.arg1 : 0;
    w.arg1 = 0;
    return adopt(w, now, fd, op == OP_SEND, op == OP_SEND ? load<u32>(rest, 8) : count, rest);
  }
  const s = changetype<Sock>(now.obj);
  const nonblock = (w.arg3 & MSG_DONTWAIT) != 0 || (now.flags & O_NONBLOCK) != 0;
  const done = op == OP_SEND ? sendStep(w, s, true, nonblock) : recvStep(w, s, nonblock);
  return done ? INTR_COMPLETED : INTR_SLEEPING;
}

/** A read or write restarted on a descriptor that names a socket now (fd/restart.ts): recv or send without flags. */
function adoptSock(w: Waiter, f: File, fd: i32, write: bool, count: u32, rest: usize): i32 {
  w.kind = sockKind;
  w.obj = f.obj;
  w.arg0 = write ? 0 : <i64>count << 32;
  w.arg1 = <i64>rest;
  w.arg2 = (write ? OP_SEND : OP_RECV) | VIA_RW | (fd << 8);
  w.arg3 = 0;
  const s = changetype<Sock>(f.obj);
  const nonblock = (f.flags & O_NONBLOCK) != 0;
  const done = write ? sendStep(w, s, true, nonblock) : recvStep(w, s, nonblock);
  return done ? INTR_COMPLETED : INTR_SLEEPING;
}

// --- poll, FIONREAD --------------------------------------------------------

/** unix_poll() / unix_dgram_poll(). */
export function sockPoll(f: File): i32 {
  const s = changetype<Sock>(f.obj);
  let mask = 0;
  if (s.err != 0) mask |= POLLERR;
  if (s.shutdown == SHUTDOWN_MASK) mask |= POLLHUP;
  if ((s.shutdown & RCV_SHUTDOWN) != 0) mask |= POLLRDHUP | POLLIN | POLLRDNORM;
  // a listener's queue holds its connections (the kernel's receive queue does)
  if (s.qHead != 0 || s.aHead != 0) mask |= POLLIN | POLLRDNORM;
  // connection-based sockets: not (or no longer) connected
  if (s.type != SOCK_DGRAM && s.state == TCP_CLOSE) mask |= POLLHUP;
  // unix_writable(): never a listener; a datagram peer's full queue too (unix_dgram_poll)
  if (s.state != TCP_LISTEN && writable(s) && !peerFull(s)) mask |= POLLOUT | POLLWRNORM | POLLWRBAND;
  return mask;
}

/**
 * unix_dgram_poll()'s check with unix_dgram_peer_wake_me(): the peer's
 * queue is full (and the peer is not connected back, and lives); the relay
 * then stays on it, so that its next receive wakes this socket's pollers.
 */
function peerFull(s: Sock): bool {
  if (s.type == SOCK_STREAM || s.peer == 0) return false;
  const other = changetype<Sock>(s.peer);
  if (other.peer == changetype<usize>(s) || !recvqFull(other)) return false;
  const connected = relayConnect(s, other);
  if (!other.dead) return true;
  if (connected) relayDisconnect(s, other);
  return false;
}

export function sockPollers(f: File): WaitList {
  return sleepers(changetype<Sock>(f.obj));
}

/** SIOCINQ: every unread byte of a stream or seqpacket socket; a datagram socket's next message. */
export function sockFionread(f: File): i32 {
  const s = changetype<Sock>(f.obj);
  if (s.state == TCP_LISTEN) return -EINVAL; // unix_inq_len()
  if (s.type != SOCK_DGRAM) return <i32>s.qBytes;
  return s.qHead == 0 ? 0 : <i32>changetype<Skb>(s.qHead).len;
}

/** read(2) on a socket: recv without flags, except that 0 bytes answer 0 at once (sock_read_iter). */
export function sockRead(p: Process, fd: i32, f: File, count: u32, nonblock: bool, plan: bool): i32 {
  if (count == 0) {
    if (plan) {
      segReset();
      segDone();
    }
    store<i32>(cellAddr(C_AUX), 0);
    return 0;
  }
  return recvCall(p, fd, f, count, nonblock ? MSG_DONTWAIT : 0, plan, VIA_RW);
}

/** write(2) on a socket: send without flags (never planned: the host stages the bytes). */
export function sockWrite(p: Process, fd: i32, f: File, src: usize, len: u32, nonblock: bool): i32 {
  return sendCall(p, fd, f, src, len, nonblock ? MSG_DONTWAIT : 0, VIA_RW, toPeer());
}
