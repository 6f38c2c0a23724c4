/**
 * Named AF_UNIX sockets over the real kernel: socket, bind, listen, connect
 * and accept4 (native/listen.h), results shaped as api.ts says.
 *
 * connect and accept4 have no per-call "don't wait" flag: both read
 * O_NONBLOCK from the description (net/unix/af_unix.c: unix_stream_connect,
 * unix_accept), which may be shared and is never changed here. So:
 * - on an O_NONBLOCK description the call is made on this thread (it cannot
 *   sleep): the kernel answers it whole;
 * - otherwise it goes to a worker thread (the pool), restartable: an abort
 *   with `{ restart: true }` sends one SA_RESTART signal and the kernel
 *   restarts it (both answer sock_intr_errno: -ERESTARTSYS);
 * - no nonblocking probe runs first: accept4 cannot be made nonblocking
 *   without changing the description, and a poll-then-accept could sleep
 *   on this thread if another accepter won the race.
 * A signal already aborted (or `timeout: 0`) asks whether the call would
 * sleep. accept: a listener with nothing queued (poll: no POLLIN) would;
 * one that is not listening answers at once (EINVAL, EOPNOTSUPP), as does a
 * non-socket. connect: it is made on this thread with a send timeout of one
 * clock tick (connectBrief), so a listener with room connects as Linux
 * would, and a full backlog answers EAGAIN after that tick, which becomes
 * the EINTR / EAGAIN Linux answers. Not exact only if the backlog frees
 * within the tick (Linux, with the signal already pending, would not wait).
 */

import type { CallOptions } from '../api.js';
import { F_GETFL, O_NONBLOCK, POLLIN, SOCK_CLOEXEC, SOCK_NONBLOCK } from '../constants.js';
import { ERRNO, IpcError, check } from '../errors.js';
import { flags, int } from '../validate.js';
import type { RawAddon } from './addon.js';
import { pathArg } from './fd.js';
import { type BlockingCalls, blockingOptions, hereOptions, wouldSleepError } from './wait.js';

/** accept4's flags: any other bit is EINVAL before anything could sleep (net/socket.c). */
const ACCEPT_FLAGS = SOCK_CLOEXEC | SOCK_NONBLOCK;

/** The named-socket functions of the raw addon (native/listen.cc). Numbers < 0 are -errno. */
export interface RawListen {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, path: string): number;
  listen(fd: number, backlog: number): number;
  /** getsockname (peer 0) or getpeername (peer 1): the name ('' unnamed), or -errno. */
  getname(fd: number, peer: number): string | number;
  /** On this thread: only where it cannot sleep. */
  connect(fd: number, path: string): number;
  /** A blocking connect that waits one clock tick at most: EAGAIN where the backlog is full. */
  connectBrief(fd: number, path: string): number;
  connectStart(fd: number, path: string): number;
  connectHere(fd: number, path: string): number;
  /** On this thread: only where it cannot sleep. */
  accept4(fd: number, flags: number): number;
  accept4Start(fd: number, flags: number): number;
  accept4Here(fd: number, flags: number): number;
  /** out[0] = SO_ACCEPTCONN. */
  acceptConn(fd: number, out: Float64Array): number;
  fcntl(fd: number, cmd: number, arg: number): number;
  poll(fd: number, events: number): number;
}

export function rawListen(raw: RawAddon): RawListen {
  return raw as unknown as RawListen;
}

function promise<T>(body: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(body());
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * A socket name as the socket calls take it: a path, an abstract name ('\0'
 * first), or '': a sockaddr_un with no path, which bind(2) autobinds and
 * connect(2) answers with EINVAL (unix_validate_addr()).
 */
function socketPath(path: unknown, syscall: string): string {
  const name = pathArg('path', path);
  if (name === '' && syscall === 'connect') throw new IpcError(ERRNO.EINVAL, syscall);
  return name;
}

export class ListenCalls {
  private readonly out = new Float64Array(2);

  constructor(private readonly raw: RawListen, private readonly calls: BlockingCalls) {}

  socket(domain: number, type: number, protocol?: number): number {
    return check(this.raw.socket(int('domain', domain), int('type', type), flags('protocol', protocol)), 'socket');
  }

  bind(fd: number, path: string): void {
    const id = int('fd', fd);
    check(this.raw.bind(id, socketPath(path, 'bind')), 'bind');
  }

  listen(fd: number, backlog: number): void {
    check(this.raw.listen(int('fd', fd), int('backlog', backlog)), 'listen');
  }

  private nonblocking(fd: number, syscall: string): boolean {
    const fl = this.raw.fcntl(fd, F_GETFL, 0);
    if (fl < 0) throw new IpcError(-fl, syscall);
    return (fl & O_NONBLOCK) !== 0;
  }

  getsockname(fd: number): string {
    return name(this.raw.getname(int('fd', fd), 0), 'getsockname');
  }

  getpeername(fd: number): string {
    return name(this.raw.getname(int('fd', fd), 1), 'getpeername');
  }

  /** A connect that answers now, or undefined when it must go where it may sleep. */
  private connectNow(id: number, path: string, options: CallOptions): number | undefined {
    if (this.nonblocking(id, 'connect')) return check(this.raw.connect(id, path), 'connect');
    const early = wouldSleepError(options, 'connect', true);
    if (early === undefined) return undefined;
    const r = this.raw.connectBrief(id, path);
    if (r === -ERRNO.EAGAIN) throw early; // the backlog is full: Linux would have slept
    return check(r, 'connect');
  }

  connect(fd: number, path: string, opts?: CallOptions): Promise<void> {
    return promise(() => {
      const id = int('fd', fd);
      const file = socketPath(path, 'connect');
      const options = blockingOptions(opts);
      if (this.connectNow(id, file, options) !== undefined) return undefined;
      return this.calls.run('connect', () => this.raw.connectStart(id, file), options, true).then(() => undefined);
    });
  }

  connectHere(fd: number, path: string, opts?: CallOptions): void {
    const id = int('fd', fd);
    const file = socketPath(path, 'connect');
    const options = hereOptions(opts);
    if (this.connectNow(id, file, options) !== undefined) return;
    check(this.raw.connectHere(id, file), 'connect');
  }

  /**
   * An accept that answers now, or undefined when it must go where it may
   * sleep: O_NONBLOCK, or a descriptor that is not a listening socket (the
   * kernel answers at once), or a signal already aborted / timeout 0 while
   * nothing is queued (it would sleep: EINTR / EAGAIN).
   */
  private acceptNow(id: number, flag: number, options: CallOptions): number | undefined {
    if ((flag & ~ACCEPT_FLAGS) !== 0) return check(this.raw.accept4(id, flag), 'accept4');
    if (this.nonblocking(id, 'accept4')) return check(this.raw.accept4(id, flag), 'accept4');
    const got = this.raw.acceptConn(id, this.out);
    if (got < 0 || this.out[0] === 0) return check(this.raw.accept4(id, flag), 'accept4');
    const early = wouldSleepError(options, 'accept4', true);
    if (early === undefined) return undefined;
    const revents = this.raw.poll(id, POLLIN);
    if (revents === 0) throw early;
    return undefined;
  }

  /**
   * Options for the pool when the signal is already aborted but a
   * connection is queued: Linux takes it (skb_recv_datagram looks at the
   * queue before the pending signal), so the call goes without the signal.
   * Not exact only if another accepter takes that connection first: this
   * call then sleeps until the next one, with no signal to end it.
   */
  private static queued(options: CallOptions): CallOptions {
    if (wouldSleepError(options, 'accept4', true) === undefined) return options;
    return { ...options, signal: undefined, timeout: undefined };
  }

  accept(fd: number, acceptFlags?: number, opts?: CallOptions): Promise<number> {
    return promise(() => {
      const id = int('fd', fd);
      const flag = flags('flags', acceptFlags);
      const options = blockingOptions(opts);
      const now = this.acceptNow(id, flag, options);
      if (now !== undefined) return now;
      return this.calls.run('accept4', () => this.raw.accept4Start(id, flag), ListenCalls.queued(options), true)
        .then((o) => o.result);
    });
  }

  acceptHere(fd: number, acceptFlags?: number, opts?: CallOptions): number {
    const id = int('fd', fd);
    const flag = flags('flags', acceptFlags);
    const options = hereOptions(opts);
    const now = this.acceptNow(id, flag, options);
    if (now !== undefined) return now;
    return check(this.raw.accept4Here(id, flag), 'accept4');
  }
}

function name(got: string | number, syscall: string): string {
  if (typeof got === 'number') throw new IpcError(-got, syscall);
  return got;
}
