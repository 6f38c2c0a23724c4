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

import type { CallOptions, Datagram, DatagramFrom } from '../api.js';
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
  /** `name`: sendto's (a path, an abstract name, or '' which the kernel refuses); undefined: send. */
  send(fd: number, data: Uint8Array, flags: number, name?: string): number;
  sendStart(fd: number, data: Uint8Array, flags: number, name?: string): number;
  sendHere(fd: number, data: Uint8Array, flags: number, name?: string): number;
  /** Never sleeps (MSG_DONTWAIT added): [recv's return value, the bytes copied, with `from` the sender's name]. */
  recv(fd: number, count: number, flags: number, from?: boolean): Received | number;
  /** Settles with recv's return value and `data`: the bytes copied (with `from`: then the name, then its length as a byte). */
  recvStart(fd: number, count: number, flags: number, from?: boolean): number;
  recvHere(fd: number, count: number, flags: number, from?: boolean): Received | number;
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

/** What the raw recv answers: its return value, the bytes copied and, for recvfrom, the sender's name. */
type Received = [number, Uint8Array] | [number, Uint8Array, string];

function datagram(got: Received | number, syscall: string): DatagramFrom {
  if (typeof got === 'number') throw new IpcError(-got, syscall);
  return { data: got[1], length: got[0], from: got[2] ?? '' };
}

/** A recvfrom settled by a worker: the bytes copied, then the sender's name, then its length (a byte). */
function settledFrom(result: number, data: Uint8Array): DatagramFrom {
  const nameLength = data[data.length - 1]!;
  const copied = data.length - 1 - nameLength;
  return { data: data.slice(0, copied), length: result, from: DECODER.decode(data.subarray(copied, copied + nameLength)) };
}

const DECODER = new TextDecoder();

/** The Datagram of a recv, without the `from` a recvfrom adds. */
function plain(got: DatagramFrom): Datagram {
  return { data: got.data, length: got.length };
}

/** sendto's name: a string (the kernel answers what it holds; '' is its EINVAL). */
function nameArg(path: unknown): string {
  if (typeof path !== 'string') throw new TypeError(`path must be a string, got ${path === null ? 'null' : typeof path}`);
  return path;
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
    return this.sendTo(fd, data, undefined, sendFlags, opts, 'send');
  }

  sendto(fd: number, data: Uint8Array, path: string, sendFlags?: number, opts?: CallOptions): Promise<number> {
    return promise(() => this.sendTo(fd, data, nameArg(path), sendFlags, opts, 'sendto'));
  }

  private sendTo(fd: number, data: Uint8Array, name: string | undefined, sendFlags: number | undefined, opts: CallOptions | undefined, syscall: string): Promise<number> {
    return promise(() => {
      const id = int('fd', fd);
      const text = bytes('data', data);
      const flag = flags('flags', sendFlags);
      const options = blockingOptions(opts);
      const rc = this.raw.send(id, text, flag, name);
      if (rc === text.length || (flag & MSG_DONTWAIT) !== 0) return check(rc, syscall);
      if (rc < 0 && rc !== -ERRNO.EAGAIN) throw new IpcError(-rc, syscall);
      if (this.nonblocking(id, syscall)) return check(rc, syscall);
      const from = rc > 0 ? rc : 0;
      if (from === 0) {
        const early = wouldSleepError(options, syscall, true);
        if (early !== undefined) throw early;
      }
      const rest = from === 0 ? text : text.subarray(from);
      const sent = this.calls.run(syscall, () => this.raw.sendStart(id, rest, flag, name), options, true).then((o) => from + o.result);
      return from === 0 ? sent : sent.catch((error: unknown) => {
        if (error instanceof IpcError) return from;
        throw error;
      });
    });
  }

  sendHere(fd: number, data: Uint8Array, sendFlags?: number, opts?: CallOptions, path?: string): number {
    const syscall = path === undefined ? 'send' : 'sendto';
    const name = path === undefined ? undefined : nameArg(path);
    const id = int('fd', fd);
    const text = bytes('data', data);
    const flag = flags('flags', sendFlags);
    const options = hereOptions(opts);
    if (options.signal?.aborted && !isRestart(options.signal.reason)) {
      const rc = this.raw.send(id, text, flag, name);
      if (rc === -ERRNO.EAGAIN && (flag & MSG_DONTWAIT) === 0 && !this.nonblocking(id, syscall)) {
        throw new IpcError(ERRNO.EINTR, syscall, { cause: options.signal.reason });
      }
      return check(rc, syscall);
    }
    return check(this.raw.sendHere(id, text, flag, name), syscall);
  }

  recv(fd: number, count: number, recvFlags?: number, opts?: CallOptions): Promise<Datagram> {
    return this.recvFrom(fd, count, recvFlags, opts, false).then(plain);
  }

  recvfrom(fd: number, count: number, recvFlags?: number, opts?: CallOptions): Promise<DatagramFrom> {
    return this.recvFrom(fd, count, recvFlags, opts, true);
  }

  private recvFrom(fd: number, count: number, recvFlags: number | undefined, opts: CallOptions | undefined, from: boolean): Promise<DatagramFrom> {
    const syscall = from ? 'recvfrom' : 'recv';
    return promise(() => {
      const id = int('fd', fd);
      const max = size('count', count);
      const flag = flags('flags', recvFlags);
      const options = blockingOptions(opts);
      if ((flag & MSG_WAITALL) === 0 || (flag & MSG_DONTWAIT) !== 0) {
        const got = this.raw.recv(id, max, flag, from);
        if (typeof got !== 'number' || got !== -ERRNO.EAGAIN || (flag & MSG_DONTWAIT) !== 0) return datagram(got, syscall);
        if (this.nonblocking(id, syscall)) return datagram(got, syscall);
        const early = wouldSleepError(options, syscall, true);
        if (early !== undefined) throw early;
      }
      return this.calls.run(syscall, () => this.raw.recvStart(id, max, flag, from), options, true)
        .then((o) => (from ? settledFrom(o.result, o.data!) : { data: o.data!, length: o.result, from: '' }));
    });
  }

  recvHere(fd: number, count: number, recvFlags?: number, opts?: CallOptions, from = false): DatagramFrom {
    const syscall = from ? 'recvfrom' : 'recv';
    const id = int('fd', fd);
    const max = size('count', count);
    const flag = flags('flags', recvFlags);
    const options = hereOptions(opts);
    if (options.signal?.aborted && !isRestart(options.signal.reason)) {
      const got = this.raw.recv(id, max, flag, from);
      if (got === -ERRNO.EAGAIN && (flag & MSG_DONTWAIT) === 0 && !this.nonblocking(id, syscall)) {
        throw new IpcError(ERRNO.EINTR, syscall, { cause: options.signal.reason });
      }
      return datagram(got, syscall);
    }
    return datagram(this.raw.recvHere(id, max, flag, from), syscall);
  }
}
