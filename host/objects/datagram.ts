/**
 * UnixDatagram: a named AF_UNIX datagram socket on any backend (Node has
 * none): send to a name or to the connected peer, receive messages with
 * their sender's name, one at a time or as an async iteration.
 */

import type { CallOptions, DatagramFrom, Process } from '../api.js';
import { AF_UNIX, SOCK_CLOEXEC, SOCK_DGRAM } from '../constants.js';
import { ERRNO, IpcError } from '../errors.js';
import { Descriptor } from './descriptor.js';

export interface UnixDatagramOptions {
  /** SOCK_CLOEXEC. */
  cloexec?: boolean;
  /** Whether close() removes the socket file of a path name (default true). */
  unlinkOnClose?: boolean;
}

export interface DatagramReceiveOptions extends CallOptions {
  /** The most bytes of one message to keep (default 65536); the rest of a longer one is dropped, as recv(2) drops it. */
  size?: number;
}

const encoder = new TextEncoder();

export class UnixDatagram implements AsyncDisposable, AsyncIterable<DatagramFrom> {
  /** The socket. */
  readonly socket: Descriptor;
  readonly #unlink: boolean;
  /** Aborts the receives still asleep when the socket closes: closing the descriptor alone would not end them. */
  readonly #closing = new AbortController();
  /** Receives not yet settled: the descriptor closes after them, so none can meet its number reused. */
  readonly #pending = new Set<Promise<unknown>>();
  #closed: Promise<void> | undefined;

  private constructor(readonly process: Process, fd: number, unlink: boolean) {
    this.socket = new Descriptor(process, fd, 'dgram');
    this.#unlink = unlink;
  }

  /**
   * socket and bind: a datagram socket named `name` (a path, an abstract
   * name, '' for the abstract name autobind picks), or unnamed when `name`
   * is undefined (it can send, but replies cannot find it).
   * @throws the IpcError of the call that failed (EADDRINUSE, ...).
   */
  static open(process: Process, name?: string, options: UnixDatagramOptions = {}): UnixDatagram {
    const fd = process.socket(AF_UNIX, SOCK_DGRAM | (options.cloexec ? SOCK_CLOEXEC : 0));
    try {
      if (name !== undefined) process.bind(fd, name);
      const path = name !== undefined && name !== '' && name.charCodeAt(0) !== 0;
      return new UnixDatagram(process, fd, path && options.unlinkOnClose !== false);
    } catch (error) {
      process.close(fd);
      throw error;
    }
  }

  /** getsockname: '' when unnamed. */
  get name(): string {
    return this.process.getsockname(this.socket.fd);
  }

  /** connect: a `send` without a name goes to `name` (EPERM when that socket is connected to another). */
  async connect(name: string): Promise<void> {
    await this.process.connect(this.socket.fd, name);
  }

  /**
   * One message: to `to` (sendto), or to the connected peer. Sleeps while the
   * receiver's queue is full. A string goes as its UTF-8 bytes.
   */
  send(data: Uint8Array | string, to?: string, opts?: CallOptions): Promise<number> {
    const bytes = typeof data === 'string' ? encoder.encode(data) : data;
    if (to === undefined) return this.process.send(this.socket.fd, bytes, 0, opts);
    return this.process.sendto(this.socket.fd, bytes, to, 0, opts);
  }

  /** Whether close() has been called. */
  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** The next message and its sender's name, sleeping until one comes; EINTR once the socket closes. */
  async receive(options: DatagramReceiveOptions = {}): Promise<DatagramFrom> {
    if (this.closed) throw new IpcError(ERRNO.EINTR, 'recvfrom');
    const { size = 65536, ...opts } = options;
    const signal = opts.signal === undefined ? this.#closing.signal : AbortSignal.any([opts.signal, this.#closing.signal]);
    const receiving = this.process.recvfrom(this.socket.fd, size, 0, { ...opts, signal });
    this.#pending.add(receiving);
    try {
      return await receiving;
    } finally {
      this.#pending.delete(receiving);
    }
  }

  /** Each message as it comes; the iteration ends when the socket closes. */
  async *[Symbol.asyncIterator](): AsyncIterator<DatagramFrom> {
    while (!this.closed) {
      try {
        yield await this.receive();
      } catch (error) {
        if (this.closed && error instanceof IpcError && error.code === 'EINTR') return;
        throw error;
      }
    }
  }

  /**
   * Ends the receives that sleep (EINTR; an iteration ends); once they have
   * settled, closes the socket and, for a path name, removes its file
   * (unless `unlinkOnClose` was false). Calling it again answers the same promise.
   */
  close(): Promise<void> {
    this.#closed ??= this.#shut();
    return this.#closed;
  }

  async #shut(): Promise<void> {
    const name = this.#unlink ? this.name : '';
    this.#closing.abort();
    await Promise.allSettled([...this.#pending]);
    this.socket.close();
    if (name === '') return;
    try {
      this.process.unlink(name);
    } catch (error) {
      // someone else removed the name already: nothing left to do
      if (!(error instanceof IpcError && error.code === 'ENOENT')) throw error;
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
