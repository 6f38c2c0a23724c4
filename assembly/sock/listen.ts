/**
 * Named AF_UNIX sockets (net/unix/af_unix.c): socket(2) (unix_create),
 * bind(2) (unix_bind_bsd), listen(2) (unix_listen), connect(2)
 * (unix_stream_connect) and accept4(2) (unix_accept).
 *
 * A connect makes the server side's socket at once (the "embryo": its peer
 * is the client, the client's peer is it) and queues it on the listener; the
 * client may send before the accept, into the embryo. accept hands the
 * embryo a file. A listener's queue is full when it holds more than
 * `backlog` (unix_recvq_full), so backlog 0 still lets one in.
 *
 * Sleepers: accept sleeps on the listener's common list (woken with every
 * queued connection, each re-checks); connect sleeps on the listener's
 * peer_wait, of which an accept wakes one and a larger backlog or the
 * listener's release wake all. A woken connect starts again from the
 * lookup of the path (unix_stream_connect's `restart`), so it keeps a copy
 * of the path. Both restart under SA_RESTART (-ERESTARTSYS: checked on
 * Linux 6.18 with sigaction(SA_RESTART): neither returns early).
 *
 * Abstract names (a leading NUL) and autobind (bind with no name): abstract.ts.
 */

import { C_TOKEN, cellAddr, reserveStage, stage } from '../abi';
import {
  EAFNOSUPPORT, EAGAIN, EINVAL, EISCONN, ENOMEM, ENOTSOCK, EBADF, EOPNOTSUPP, EPROTONOSUPPORT, ESOCKTNOSUPPORT,
  ECONNREFUSED, ENOTCONN, EPERM,
} from '../errno';
import { File, FILE_SOCK, fget, FMODE_READ, FMODE_WRITE, fput, newFile, O_CLOEXEC, O_NONBLOCK, O_RDWR } from '../fd/file';
import { fdFile, fdInstall, fdReserve, fdUnreserve } from '../fd/table';
import { alloc, free } from '../mem/alloc';
import { sockBindNode } from '../pipe/fifo';
import { Process } from '../proc/process';
import {
  cancel, complete, INTR_CANCELLED, INTR_COMPLETED, INTR_SLEEPING, listAppend, listRemove, park, PENDING,
  registerKind, setInterruptHook, wake, Waiter,
} from '../wait/waiters';
import {
  addrCopy, addrGet, addrLen, addrNew, addrPut, newSock, peerWaiters, relayDisconnect, RCV_SHUTDOWN, sleepers, Sock, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_STREAM, sockPut, TCP_CLOSE,
  TCP_ESTABLISHED, TCP_LISTEN, wakePeerWaiters, wakeSock,
} from './sock';
import { ABSTRACT, abstractBind, AUTOBIND, autobind, findOther } from './abstract';
import { dgramDisconnected } from './io';

const AF_UNIX: i32 = 1;
const NPROTO: i32 = 46;
const SOCK_RAW: i32 = 3;
const SOCK_MAX: i32 = 10;
const SOCK_TYPE_MASK: i32 = 0xf;
/** net.core.somaxconn. */
const SOMAXCONN: u32 = 4096;

const WOULD_BLOCK: i32 = -0x10001;
const OP_CONNECT: i32 = 0;
const OP_ACCEPT: i32 = 1;

let listenKind: i32 = -1;

export function initListen(): void {
  listenKind = registerKind(retryListen, releaseListen);
  setInterruptHook(listenKind, interruptListen);
}

/** The socket `fd` names: -EBADF, -ENOTSOCK, or 0 with its file in `found`. */
let found: File | null = null;

function fileOf(p: Process, fd: i32): i32 {
  const f = fdFile(p, fd);
  if (f === null) return -EBADF;
  if (f.kind != FILE_SOCK) return -ENOTSOCK;
  found = f;
  return 0;
}

/**
 * __sys_socket(): type flags other than SOCK_NONBLOCK | SOCK_CLOEXEC
 * (EINVAL), sock_create's checks (family range: EAFNOSUPPORT; type ≥
 * SOCK_MAX: EINVAL), unix_create's (protocol 0 or PF_UNIX, else
 * EPROTONOSUPPORT; SOCK_RAW is a datagram socket; other types
 * ESOCKTNOSUPPORT), then the number (EMFILE). Families other than AF_UNIX
 * are EAFNOSUPPORT: the model has no others (a real kernel makes AF_INET
 * sockets).
 */
export function sockSocket(p: Process, domain: i32, type: i32, protocol: i32): i32 {
  const flags = type & ~SOCK_TYPE_MASK;
  if ((flags & ~(O_CLOEXEC | O_NONBLOCK)) != 0) return -EINVAL;
  type &= SOCK_TYPE_MASK;
  if (domain < 0 || domain >= NPROTO) return -EAFNOSUPPORT;
  if (type >= SOCK_MAX) return -EINVAL;
  if (domain != AF_UNIX) return -EAFNOSUPPORT;
  if (protocol != 0 && protocol != AF_UNIX) return -EPROTONOSUPPORT;
  if (type == SOCK_RAW) type = SOCK_DGRAM;
  if (type != SOCK_STREAM && type != SOCK_DGRAM && type != SOCK_SEQPACKET) return -ESOCKTNOSUPPORT;
  const s = newSock(type);
  if (s === null) return -ENOMEM;
  s.state = TCP_CLOSE;
  const f = newFile(FILE_SOCK, O_RDWR | (flags & O_NONBLOCK), FMODE_READ | FMODE_WRITE, changetype<usize>(s));
  if (f === null) {
    sockPut(s);
    return -ENOMEM;
  }
  const fd = fdReserve(p);
  if (fd < 0) {
    fput(f);
    return fd;
  }
  fdInstall(p, fd, f, (flags & O_CLOEXEC) != 0);
  return fd;
}

/**
 * bind(2) to the staged path (unix_bind_bsd): see fifo.ts sockBindNode. The
 * canonical path (len bytes) is staged first, then the name as given
 * (nameLen bytes), which getsockname answers.
 */
export function sockBind(p: Process, fd: i32, len: u32, how: i32, nameLen: u32): i32 {
  const e = fileOf(p, fd);
  if (e < 0) return e;
  const s = changetype<Sock>(changetype<File>(found).obj);
  if ((how & AUTOBIND) != 0) return autobind(s);
  if ((how & ABSTRACT) != 0) return abstractBind(s, stage() + <usize>len, nameLen);
  const bound = s.addr != 0;
  const addr = bound ? <usize>0 : addrNew(stage() + <usize>len, nameLen);
  if (!bound && addr == 0) return -ENOMEM;
  const r = sockBindNode(p, len, how, changetype<usize>(s), bound);
  if (r < 0) {
    if (addr != 0) addrPut(addr);
    return <i32>r;
  }
  s.node = <usize>r;
  s.addr = addr;
  return 0;
}

/**
 * getsockname(2) (peer false) and getpeername(2) (peer true) of a socket:
 * the name's bytes go to the staging buffer; answers their length (0:
 * unnamed). A socket with no peer has no peer name (ENOTCONN); a peer that
 * has closed still has its name.
 */
export function sockName(p: Process, fd: i32, peer: bool): i32 {
  const e = fileOf(p, fd);
  if (e < 0) return e;
  let s = changetype<Sock>(changetype<File>(found).obj);
  if (peer) {
    if (s.peer == 0) return -ENOTCONN;
    s = changetype<Sock>(s.peer);
  }
  if (!reserveStage(<usize>addrLen(s))) return -ENOMEM;
  return <i32>addrCopy(s, stage());
}

/**
 * unix_listen(): datagram sockets EOPNOTSUPP, unbound EINVAL, connected
 * EINVAL; the backlog (as C's unsigned, capped at somaxconn) replaces the
 * old one, and a larger one lets waiting connects try again.
 */
export function sockListen(p: Process, fd: i32, backlog: i32): i32 {
  const e = fileOf(p, fd);
  if (e < 0) return e;
  const s = changetype<Sock>(changetype<File>(found).obj);
  if (s.type != SOCK_STREAM && s.type != SOCK_SEQPACKET) return -EOPNOTSUPP;
  if (s.addr == 0) return -EINVAL; // unbound (by path or abstract name)
  if (s.state != TCP_CLOSE && s.state != TCP_LISTEN) return -EINVAL;
  const b = <i32>(<u32>backlog > SOMAXCONN ? SOMAXCONN : <u32>backlog);
  if (b > s.backlog) wakePeerWaiters(s);
  s.backlog = b;
  s.state = TCP_LISTEN;
  return 0;
}

// --- connect ----------------------------------------------------------------

/** The listener the last connect pass slept on (its reference taken). */
let sleptOn: Sock | null = null;

/**
 * One pass of unix_stream_connect() from `restart:` for socket `s` to the
 * path at `path`: the listener (ENOENT, ENOTDIR, EACCES, ECONNREFUSED;
 * EPROTOTYPE for another type), not listening or shut for reading
 * (ECONNREFUSED), its queue full (EAGAIN, or WOULD_BLOCK with `sleptOn`
 * set), then this socket's own state (EISCONN, EINVAL for a listener).
 * Connected: the embryo is queued on the listener, which is woken.
 */
function connectPass(p: Process, s: Sock, path: usize, len: u32, how: i32, nonblock: bool): i32 {
  const r = findOther(p, s.type, path, len, how);
  if (r < 0) return <i32>r;
  const other = changetype<Sock>(<usize>r);
  if (other.state != TCP_LISTEN || (other.shutdown & RCV_SHUTDOWN) != 0) return -ECONNREFUSED;
  if (other.aLen > other.backlog) {
    if (nonblock) return -EAGAIN;
    other.refs++;
    sleptOn = other;
    return WOULD_BLOCK;
  }
  if (s.state == TCP_ESTABLISHED) return -EISCONN;
  if (s.state != TCP_CLOSE) return -EINVAL;
  const embryo = newSock(s.type);
  if (embryo === null) return -ENOMEM;
  // the accepted socket carries the listener's name (getsockname of it, getpeername of the client)
  if (other.addr != 0) embryo.addr = addrGet(other.addr);
  embryo.peer = changetype<usize>(s);
  s.refs++;
  s.peer = changetype<usize>(embryo);
  embryo.refs++;
  s.state = TCP_ESTABLISHED;
  if (other.aTail != 0) changetype<Sock>(other.aTail).anext = changetype<usize>(embryo);
  else other.aHead = changetype<usize>(embryo);
  other.aTail = changetype<usize>(embryo);
  other.aLen++;
  wakeSock(other); // other->sk_data_ready
  return 0;
}

/**
 * unix_dgram_connect() to the staged name: the socket (ENOENT, ECONNREFUSED,
 * EPROTOTYPE as for a stream connect), which must take datagrams from this
 * one (EPERM when connected to another). A socket connected before leaves
 * its old peer: its relay there goes and its sleepers are woken, and,
 * unless it reconnects to the same peer, what it had received is dropped
 * (unix_dgram_disconnected). Never sleeps.
 */
function dgramConnect(p: Process, s: Sock, path: usize, len: u32, how: i32): i32 {
  const r = findOther(p, s.type, path, len, how);
  if (r < 0) return <i32>r;
  const other = changetype<Sock>(<usize>r);
  if (other.peer != 0 && other.peer != changetype<usize>(s)) return -EPERM;
  s.state = TCP_ESTABLISHED;
  other.state = TCP_ESTABLISHED;
  other.refs++;
  const old = s.peer;
  s.peer = changetype<usize>(other);
  if (old == 0) return 0;
  const o = changetype<Sock>(old);
  relayDisconnect(s, o);
  wakeSock(s); // unix_dgram_peer_wake_disconnect_wakeup()
  if (o !== other) {
    dgramDisconnected(s, o);
    if (o.peer == 0) o.state = TCP_CLOSE;
  }
  sockPut(o);
  return 0;
}

/** connect(2) to the staged path: 0, -errno or PENDING (completes with 0 or -errno). */
export function sockConnect(p: Process, fd: i32, len: u32, how: i32): i32 {
  const e = fileOf(p, fd);
  if (e < 0) return e;
  const f = changetype<File>(found);
  const s = changetype<Sock>(f.obj);
  if (s.type == SOCK_DGRAM) return dgramConnect(p, s, stage(), len, how);
  const r = connectPass(p, s, stage(), len, how, (f.flags & O_NONBLOCK) != 0);
  if (r != WOULD_BLOCK) return r;
  const other = changetype<Sock>(sleptOn);
  const copy = alloc(<usize>len + 1);
  if (copy == 0) {
    sockPut(other);
    return -ENOMEM;
  }
  const w = park(listenKind, p, peerWaiters(other), changetype<usize>(other));
  if (w === null) {
    free(copy, <usize>len + 1);
    sockPut(other);
    return -ENOMEM;
  }
  memory.copy(copy, stage(), <usize>len);
  fget(f);
  w.block = changetype<usize>(f);
  w.arg0 = <i64>copy;
  w.arg1 = <i64>len;
  w.arg2 = OP_CONNECT;
  w.arg3 = how;
  store<i32>(cellAddr(C_TOKEN), w.token);
  return PENDING;
}

/** A connect's next pass: true when it completed, false when it sleeps again (on whichever listener is full now). */
function connectStep(w: Waiter): bool {
  const f = changetype<File>(w.block);
  const s = changetype<Sock>(f.obj);
  const old = changetype<Sock>(w.obj);
  const r = connectPass(changetype<Process>(w.proc), s, <usize>w.arg0, <u32>w.arg1, w.arg3, (f.flags & O_NONBLOCK) != 0);
  sockPut(old);
  if (r == WOULD_BLOCK) {
    const other = changetype<Sock>(sleptOn);
    w.obj = changetype<usize>(other);
    listAppend(peerWaiters(other), w);
    return false;
  }
  w.obj = 0;
  complete(w, r, 0, 0, 0);
  return true;
}

// --- accept -----------------------------------------------------------------

/**
 * One pass of unix_accept() for listener `s`: EINVAL once it is not
 * listening; the next connection, handed a file and the reserved number
 * `fd`, with one waiting connect woken (wake_up_interruptible(&peer_wait));
 * an empty queue: EINVAL after SHUT_RD when the call may sleep
 * (skb_recv_datagram finds RCV_SHUTDOWN and no error), else EAGAIN, or
 * WOULD_BLOCK.
 */
function acceptPass(p: Process, s: Sock, fd: i32, flags: i32, nonblock: bool): i32 {
  if (s.state != TCP_LISTEN) return -EINVAL;
  if (s.aHead == 0) {
    if (nonblock) return -EAGAIN;
    if ((s.shutdown & RCV_SHUTDOWN) != 0) return -EINVAL;
    return WOULD_BLOCK;
  }
  const embryo = changetype<Sock>(s.aHead);
  const f = newFile(FILE_SOCK, O_RDWR | (flags & O_NONBLOCK), FMODE_READ | FMODE_WRITE, changetype<usize>(embryo));
  if (f === null) return -ENOMEM;
  s.aHead = embryo.anext;
  if (s.aHead == 0) s.aTail = 0;
  embryo.anext = 0;
  s.aLen--;
  if (s.pwHead != 0) {
    const w = changetype<Waiter>(s.pwHead);
    listRemove(w);
    wake(w);
  }
  fdInstall(p, fd, f, (flags & O_CLOEXEC) != 0);
  return fd;
}

/**
 * accept4(2): flags other than SOCK_NONBLOCK | SOCK_CLOEXEC (EINVAL), the
 * socket (EBADF, ENOTSOCK), the new number (EMFILE), then unix_accept
 * (datagram sockets EOPNOTSUPP, not listening EINVAL). The accepted socket
 * takes O_NONBLOCK from `flags` only, not from the listener.
 */
export function sockAccept(p: Process, fd: i32, flags: i32): i32 {
  if ((flags & ~(O_CLOEXEC | O_NONBLOCK)) != 0) return -EINVAL;
  const e = fileOf(p, fd);
  if (e < 0) return e;
  const f = changetype<File>(found);
  const s = changetype<Sock>(f.obj);
  const nfd = fdReserve(p);
  if (nfd < 0) return nfd;
  let r: i32 = s.type == SOCK_DGRAM ? -EOPNOTSUPP : acceptPass(p, s, nfd, flags, (f.flags & O_NONBLOCK) != 0);
  if (r == WOULD_BLOCK) {
    const w = park(listenKind, p, sleepers(s), changetype<usize>(s));
    if (w !== null) {
      fget(f);
      s.refs++;
      w.block = changetype<usize>(f);
      w.arg0 = 0;
      w.arg1 = 0;
      w.arg2 = OP_ACCEPT | (nfd << 8);
      w.arg3 = flags;
      store<i32>(cellAddr(C_TOKEN), w.token);
      return PENDING;
    }
    r = -ENOMEM;
  }
  if (r < 0) fdUnreserve(p, nfd);
  return r;
}

function acceptStep(w: Waiter, nonblock: bool): bool {
  const s = changetype<Sock>(w.obj);
  const fd = w.arg2 >> 8;
  const p = changetype<Process>(w.proc);
  const r = acceptPass(p, s, fd, w.arg3, nonblock);
  if (r == WOULD_BLOCK) {
    listAppend(sleepers(s), w);
    return false;
  }
  if (r >= 0) w.arg1 = 1; // the number is installed: the release leaves it
  w.obj = 0;
  sockPut(s);
  complete(w, r, 0, 0, 0);
  return true;
}

// --- sleepers ---------------------------------------------------------------

function retryListen(w: Waiter): void {
  if ((w.arg2 & 0xff) == OP_CONNECT) connectStep(w);
  else acceptStep(w, false);
}

/** A call that ends (completed, signalled, abandoned at exit): its references, its copy of the path, a number it did not install go. */
function releaseListen(w: Waiter): void {
  if ((w.arg2 & 0xff) == OP_CONNECT) free(<usize>w.arg0, <usize>w.arg1 + 1);
  else if (w.arg1 == 0) fdUnreserve(changetype<Process>(w.proc), w.arg2 >> 8);
  if (w.obj != 0) sockPut(changetype<Sock>(w.obj));
  w.obj = 0;
  fput(changetype<File>(w.block));
}

/**
 * A signal: EINTR; under SA_RESTART the call is made again (-ERESTARTSYS):
 * a connect looks the path up again, an accept re-reads O_NONBLOCK, and one
 * that must still wait goes to the tail of its list. (The descriptor is
 * not looked up again: the sleeping call keeps the file it started with.)
 */
function interruptListen(w: Waiter, restart: bool): i32 {
  if (!restart) {
    cancel(w);
    return INTR_CANCELLED;
  }
  listRemove(w);
  if ((w.arg2 & 0xff) == OP_CONNECT) {
    return connectStep(w) ? INTR_COMPLETED : INTR_SLEEPING;
  }
  const f = changetype<File>(w.block);
  return acceptStep(w, (f.flags & O_NONBLOCK) != 0) ? INTR_COMPLETED : INTR_SLEEPING;
}
