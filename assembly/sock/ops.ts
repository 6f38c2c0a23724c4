/**
 * socketpair(2) (__sys_socketpair, unix_create, unix_socketpair),
 * shutdown(2) (unix_shutdown), SO_SNDBUF / SO_RCVBUF (sk_setsockopt,
 * sk_getsockopt) and the release of a socket's last file.
 *
 * Families: AF_UNIX (1) makes pairs; AF_INET (2) and AF_INET6 (10) make
 * sockets whose socketpair is EOPNOTSUPP (their other types:
 * ESOCKTNOSUPPORT); every other family is taken as not registered
 * (EAFNOSUPPORT), where a real kernel may have more (netlink, packet, ...).
 */

import { C_AUX2, cellAddr } from '../abi';
import {
  EAFNOSUPPORT, EBADF, EINVAL, ENOMEM, ENOPROTOOPT, ENOTSOCK, EOPNOTSUPP, EPROTONOSUPPORT, ESOCKTNOSUPPORT,
} from '../errno';
import { discardFile, File, FILE_SOCK, FMODE_READ, FMODE_WRITE, newFile, O_CLOEXEC, O_NONBLOCK, O_RDWR, registerFileKind } from '../fd/file';
import { fdFile, fdInstall, fdReserve, fdUnreserve } from '../fd/table';
import { Process } from '../proc/process';
import { initSockIo } from './io';
import {
  newSock, RCV_SHUTDOWN, releaseSock, SEND_SHUTDOWN, SHUTDOWN_MASK, Sock, SOCK_DGRAM, SOCK_MIN_RCVBUF, SOCK_MIN_SNDBUF,
  SOCK_SEQPACKET, SOCK_STREAM, sockPut, RMEM_MAX, TCP_LISTEN, wakeSock, WMEM_MAX, writable,
} from './sock';

const AF_UNIX: i32 = 1;
const AF_INET: i32 = 2;
const AF_INET6: i32 = 10;
/** NPROTO (AF_MAX on Linux 6.x). */
const NPROTO: i32 = 46;
const SOCK_RAW: i32 = 3;
/** SOCK_MAX. */
const SOCK_MAX: i32 = 10;
const SOCK_TYPE_MASK: i32 = 0xf;

export const SO_SNDBUF: i32 = 7;
export const SO_RCVBUF: i32 = 8;
const SO_TYPE: i32 = 3;
const SO_ERROR: i32 = 4;
const SO_ACCEPTCONN: i32 = 30;
const SO_PROTOCOL: i32 = 38;
const SO_DOMAIN: i32 = 39;
export const SOL_SOCKET: i32 = 1;

export function initSockets(): void {
  registerFileKind(FILE_SOCK, fileRelease);
  initSockIo();
}

function fileRelease(f: File): void {
  releaseSock(changetype<Sock>(f.obj), false);
}

/**
 * __sys_socketpair(): type flags other than SOCK_NONBLOCK | SOCK_CLOEXEC
 * (EINVAL), two numbers (EMFILE), then sock_create's checks in order
 * (family range: EAFNOSUPPORT; type ≥ SOCK_MAX: EINVAL; family), then the
 * family's (AF_UNIX: protocol 0 or PF_UNIX, else EPROTONOSUPPORT; SOCK_RAW
 * is a datagram socket; other types ESOCKTNOSUPPORT). Answers the first
 * socket's descriptor; the second is in C_AUX2.
 */
export function socketPair(p: Process, domain: i32, type: i32, protocol: i32): i32 {
  const flags = type & ~SOCK_TYPE_MASK;
  if ((flags & ~(O_CLOEXEC | O_NONBLOCK)) != 0) return -EINVAL;
  type &= SOCK_TYPE_MASK;
  const fd1 = fdReserve(p);
  if (fd1 < 0) return fd1;
  const fd2 = fdReserve(p);
  if (fd2 < 0) {
    fdUnreserve(p, fd1);
    return fd2;
  }
  const r = pairInto(p, domain, type, protocol, flags, fd1, fd2);
  if (r < 0) {
    fdUnreserve(p, fd1);
    fdUnreserve(p, fd2);
  }
  return r;
}

function pairInto(p: Process, domain: i32, type: i32, protocol: i32, flags: i32, fd1: i32, fd2: i32): i32 {
  if (domain < 0 || domain >= NPROTO) return -EAFNOSUPPORT;
  if (type >= SOCK_MAX) return -EINVAL;
  if (domain == AF_INET || domain == AF_INET6) {
    return type == SOCK_STREAM || type == SOCK_DGRAM || type == SOCK_RAW ? -EOPNOTSUPP : -ESOCKTNOSUPPORT;
  }
  if (domain != AF_UNIX) return -EAFNOSUPPORT;
  if (protocol != 0 && protocol != AF_UNIX) return -EPROTONOSUPPORT;
  if (type == SOCK_RAW) type = SOCK_DGRAM;
  if (type != SOCK_STREAM && type != SOCK_DGRAM && type != SOCK_SEQPACKET) return -ESOCKTNOSUPPORT;
  const a = newSock(type);
  const b = newSock(type);
  if (a === null || b === null) {
    if (a !== null) sockPut(a);
    if (b !== null) sockPut(b);
    return -ENOMEM;
  }
  const fflags = O_RDWR | (flags & O_NONBLOCK);
  const fa = newFile(FILE_SOCK, fflags, FMODE_READ | FMODE_WRITE, changetype<usize>(a));
  const fb = newFile(FILE_SOCK, fflags, FMODE_READ | FMODE_WRITE, changetype<usize>(b));
  if (fa === null || fb === null) {
    if (fa !== null) discardFile(fa);
    if (fb !== null) discardFile(fb);
    sockPut(a);
    sockPut(b);
    return -ENOMEM;
  }
  // each holds the other (unix_peer), as unix_socketpair's sock_hold
  a.peer = changetype<usize>(b);
  b.peer = changetype<usize>(a);
  a.refs++;
  b.refs++;
  const cloexec = (flags & O_CLOEXEC) != 0;
  fdInstall(p, fd1, fa, cloexec);
  fdInstall(p, fd2, fb, cloexec);
  store<i32>(cellAddr(C_AUX2), fd2);
  return fd1;
}

/** The socket `fd` names: -EBADF, -ENOTSOCK, or 0 with it in `found`. */
let found: usize = 0;

function sockOf(p: Process, fd: i32): i32 {
  const f = fdFile(p, fd);
  if (f === null) return -EBADF;
  if (f.kind != FILE_SOCK) return -ENOTSOCK;
  found = f.obj;
  return 0;
}

/**
 * unix_shutdown(): SHUT_RD, SHUT_WR, SHUT_RDWR (else EINVAL) become
 * RCV_SHUTDOWN, SEND_SHUTDOWN or both; a stream or seqpacket peer gets the
 * mirror image (our SHUT_WR is its RCV_SHUTDOWN). Both are woken.
 */
export function sockShutdown(p: Process, fd: i32, how: i32): i32 {
  const e = sockOf(p, fd);
  if (e < 0) return e;
  if (how < 0 || how > 2) return -EINVAL;
  const s = changetype<Sock>(found);
  const mode = how + 1;
  s.shutdown |= mode;
  wakeSock(s);
  if (s.peer != 0 && s.type != SOCK_DGRAM) {
    const other = changetype<Sock>(s.peer);
    let peerMode = 0;
    if ((mode & RCV_SHUTDOWN) != 0) peerMode |= SEND_SHUTDOWN;
    if ((mode & SEND_SHUTDOWN) != 0) peerMode |= RCV_SHUTDOWN;
    other.shutdown |= peerMode & SHUTDOWN_MASK;
    wakeSock(other);
  }
  return 0;
}

/**
 * SO_SNDBUF / SO_RCVBUF: the value (as C's u32) capped at wmem_max /
 * rmem_max, doubled, at least SOCK_MIN_SNDBUF / SOCK_MIN_RCVBUF; a larger
 * send buffer lets waiting senders on (sk_write_space). Other options:
 * ENOPROTOOPT (the model has only these two).
 */
export function sockSetOpt(p: Process, fd: i32, level: i32, opt: i32, value: i32): i32 {
  const e = sockOf(p, fd);
  if (e < 0) return e;
  if (level != SOL_SOCKET) return -ENOPROTOOPT;
  const s = changetype<Sock>(found);
  if (opt == SO_SNDBUF) {
    const v = <u32>value < <u32>WMEM_MAX ? <i32>value : WMEM_MAX;
    s.sndbuf = v * 2 > SOCK_MIN_SNDBUF ? v * 2 : SOCK_MIN_SNDBUF;
    if (writable(s)) wakeSock(s); // unix_write_space
    return 0;
  }
  if (opt == SO_RCVBUF) {
    const v = <u32>value < <u32>RMEM_MAX ? <i32>value : RMEM_MAX;
    s.rcvbuf = v * 2 > SOCK_MIN_RCVBUF ? v * 2 : SOCK_MIN_RCVBUF;
    return 0;
  }
  return -ENOPROTOOPT;
}

/**
 * sk_getsockopt() of the options the model has: SO_SNDBUF, SO_RCVBUF, and
 * what a socket says of itself: SO_TYPE (SOCK_RAW was made a datagram
 * socket), SO_DOMAIN, SO_PROTOCOL (0: unix_create never stores the
 * protocol it accepts), SO_ACCEPTCONN (listening), SO_ERROR (the pending
 * error, taken: sock_error() exchanges sk_err with 0). Others: ENOPROTOOPT.
 * None of the five can be set (sk_setsockopt answers them ENOPROTOOPT).
 */
export function sockGetOpt(p: Process, fd: i32, level: i32, opt: i32): i32 {
  const e = sockOf(p, fd);
  if (e < 0) return e;
  if (level != SOL_SOCKET) return -ENOPROTOOPT;
  const s = changetype<Sock>(found);
  switch (opt) {
    case SO_SNDBUF: return s.sndbuf;
    case SO_RCVBUF: return s.rcvbuf;
    case SO_TYPE: return s.type;
    case SO_DOMAIN: return AF_UNIX;
    case SO_PROTOCOL: return 0;
    case SO_ACCEPTCONN: return s.state == TCP_LISTEN ? 1 : 0;
    case SO_ERROR: {
      const err = s.err;
      s.err = 0;
      return err;
    }
  }
  return -ENOPROTOOPT;
}

/** send(2) / recv(2) need a socket: EBADF, ENOTSOCK, or 0. */
export function checkSock(p: Process, fd: i32): i32 {
  return sockOf(p, fd);
}
