/**
 * Unix socket pairs over the real kernel: argument checks (validate.ts),
 * the addon's raw calls (native/sock.h), results shaped as api.ts says.
 * Every send carries MSG_NOSIGNAL (api.ts: SIGPIPE is treated as ignored);
 * sync probes add MSG_DONTWAIT, per call, leaving O_NONBLOCK alone.
 *
 * A blocking send or recv first tries once with MSG_DONTWAIT on this
 * thread; only one that would sleep goes to a worker thread, which makes
 * the blocking call. A stream send the probe took in part goes on with the
 * rest there, as the kernel's own send does (net/unix/af_unix.c:
 * unix_stream_sendmsg sends in pieces and sleeps between them); an error
 * after bytes went out answers their count. recv with MSG_WAITALL skips
 * the probe (it could return a part the blocking call would wait past).
 */

import type { CallOptions, Datagram } from '../api.js';
import { F_GETFL, MSG_DONTWAIT, MSG_WAITALL, O_NONBLOCK } from '../constants.js';
import { ERRNO, IpcError, check } from '../errors.js';
import { bytes, flags, int, size } from '../validate.js';
import type { RawAddon } from './addon.js';
import { ListenCalls, rawListen } from './listen.js';
import { type BlockingCalls, blockingOptions, hereOptions, isRestart, wouldSleepError } from './wait.js';

/** The socket functions of the raw addon (native/sock.cc). Numbers < 0 are -errno. */
export interface RawSock {
  socketpair(domain: number, type: number, protocol: number): [number, number] | number;
  /** Never sleeps (MSG_DONTWAIT | MSG_NOSIGNAL added). */
  send(fd: number, data: Uint8Array, flags: number): number;
  sendStart(fd: number, data: Uint8Array, flags: number): number;
  sendHere(fd: number, data: Uint8Array, flags: number): number;
  /** Never sleeps (MSG_DONTWAIT added): [recv's return value, the bytes copied]. */
  recv(fd: number, count: number, flags: number): [number, Uint8Array] | number;
  /** Settles with recv's return value and `data`, the bytes copied. */
  recvStart(fd: number, count: number, flags: number): number;
  recvHere(fd: number, count: number, flags: number): [number, Uint8Array] | number;
  shutdown(fd: number, how: number): number;
  setsockopt(fd: number, optname: number, value: number): number;
  /** out[0] = the option's value. */
  getsockopt(fd: number, optname: number, out: Float64Array): number;
  fcntl(fd: number, cmd: number, arg: number): number;
}

export function rawSock(raw: RawAddon): RawSock {
  return raw as unknown as RawSock;
}

function promise<T>(body: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(body());
  } catch (error) {
    return Promise.reject(error);
  }
}

function datagram(got: [number, Uint8Array] | number): Datagram {
  if (typeof got === 'number') throw new IpcError(-got, 'recv');
  return { data: got[1], length: got[0] };
}

export class SockCalls {
  private readonly out = new Float64Array(1);
  /** socket, bind, listen, connect, accept (listen.ts). */
  readonly named: ListenCalls;

  constructor(private readonly raw: RawSock, private readonly calls: BlockingCalls) {
    this.named = new ListenCalls(rawListen(raw as unknown as RawAddon), calls);
  }

  socketpair(domain: number, type: number, protocol?: number): [number, number] {
    const got = this.raw.socketpair(int('domain', domain), int('type', type), flags('protocol', protocol));
    if (typeof got === 'number') throw new IpcError(-got, 'socketpair');
    return got;
  }

  shutdown(fd: number, how: number): void {
    check(this.raw.shutdown(int('fd', fd), int('how', how)), 'shutdown');
  }

  setsockopt(fd: number, optname: number, value: number): void {
    check(this.raw.setsockopt(int('fd', fd), int('optname', optname), int('value', value)), 'setsockopt');
  }

  getsockopt(fd: number, optname: number): number {
    check(this.raw.getsockopt(int('fd', fd), int('optname', optname), this.out), 'getsockopt');
    return this.out[0]!;
  }

  private nonblocking(fd: number, syscall: string): boolean {
    const fl = this.raw.fcntl(fd, F_GETFL, 0);
    if (fl < 0) throw new IpcError(-fl, syscall);
    return (fl & O_NONBLOCK) !== 0;
  }

  send(fd: number, data: Uint8Array, sendFlags?: number, opts?: CallOptions): Promise<number> {
    return promise(() => {
      const id = int('fd', fd);
      const text = bytes('data', data);
      const flag = flags('flags', sendFlags);
      const options = blockingOptions(opts);
      const rc = this.raw.send(id, text, flag);
      if (rc === text.length || (flag & MSG_DONTWAIT) !== 0) return check(rc, 'send');
      if (rc < 0 && rc !== -ERRNO.EAGAIN) throw new IpcError(-rc, 'send');
      if (this.nonblocking(id, 'send')) return check(rc, 'send');
      const from = rc > 0 ? rc : 0;
      if (from === 0) {
        const early = wouldSleepError(options, 'send', true);
        if (early !== undefined) throw early;
      }
      const rest = from === 0 ? text : text.subarray(from);
      const sent = this.calls.run('send', () => this.raw.sendStart(id, rest, flag), options, true).then((o) => from + o.result);
      return from === 0 ? sent : sent.catch((error: unknown) => {
        if (error instanceof IpcError) return from;
        throw error;
      });
    });
  }

  sendHere(fd: number, data: Uint8Array, sendFlags?: number, opts?: CallOptions): number {
    const id = int('fd', fd);
    const text = bytes('data', data);
    const flag = flags('flags', sendFlags);
    const options = hereOptions(opts);
    if (options.signal?.aborted && !isRestart(options.signal.reason)) {
      const rc = this.raw.send(id, text, flag);
      if (rc === -ERRNO.EAGAIN && (flag & MSG_DONTWAIT) === 0 && !this.nonblocking(id, 'send')) {
        throw new IpcError(ERRNO.EINTR, 'send', { cause: options.signal.reason });
      }
      return check(rc, 'send');
    }
    return check(this.raw.sendHere(id, text, flag), 'send');
  }

  recv(fd: number, count: number, recvFlags?: number, opts?: CallOptions): Promise<Datagram> {
    return promise(() => {
      const id = int('fd', fd);
      const max = size('count', count);
      const flag = flags('flags', recvFlags);
      const options = blockingOptions(opts);
      if ((flag & MSG_WAITALL) === 0 || (flag & MSG_DONTWAIT) !== 0) {
        const got = this.raw.recv(id, max, flag);
        if (typeof got !== 'number' || got !== -ERRNO.EAGAIN || (flag & MSG_DONTWAIT) !== 0) return datagram(got);
        if (this.nonblocking(id, 'recv')) return datagram(got);
        const early = wouldSleepError(options, 'recv', true);
        if (early !== undefined) throw early;
      }
      return this.calls.run('recv', () => this.raw.recvStart(id, max, flag), options, true)
        .then((o) => ({ data: o.data!, length: o.result }));
    });
  }

  recvHere(fd: number, count: number, recvFlags?: number, opts?: CallOptions): Datagram {
    const id = int('fd', fd);
    const max = size('count', count);
    const flag = flags('flags', recvFlags);
    const options = hereOptions(opts);
    if (options.signal?.aborted && !isRestart(options.signal.reason)) {
      const got = this.raw.recv(id, max, flag);
      if (got === -ERRNO.EAGAIN && (flag & MSG_DONTWAIT) === 0 && !this.nonblocking(id, 'recv')) {
        throw new IpcError(ERRNO.EINTR, 'recv', { cause: options.signal.reason });
      }
      return datagram(got);
    }
    return datagram(this.raw.recvHere(id, max, flag));
  }
}
