/**
 * UnixDatagram: a named AF_UNIX datagram socket on any backend (Node has
 * none): send to a name or to the connected peer, receive messages with
 * their sender's name, one at a time or as an async iteration.
 */

import type { CallOptions, DatagramFrom, Process } from '../api.js';
import { AF_UNIX, SOCK_CLOEXEC, SOCK_DGRAM } from '../constants.js';
import { Closing, unlinkName } from './closing.js';
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
  /** Ends the receives still asleep at close: closing the descriptor alone would not end them. */
  readonly #closing = new Closing();

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
    return this.#closing.closed;
  }

  /** The next message and its sender's name, sleeping until one comes; EINTR once the socket closes. */
  receive(options: DatagramReceiveOptions = {}): Promise<DatagramFrom> {
    const { size = 65536, ...opts } = options;
    return this.#closing.run('recvfrom', opts, (o) => this.process.recvfrom(this.socket.fd, size, 0, o));
  }

  /** Each message as it comes; the iteration ends when the socket closes. */
  [Symbol.asyncIterator](): AsyncIterator<DatagramFrom> {
    return this.#closing.iterate(() => this.receive());
  }

  /**
   * Ends the receives that sleep (EINTR; an iteration ends); once they have
   * settled, closes the socket and, for a path name, removes its file
   * (unless `unlinkOnClose` was false). Calling it again answers the same promise.
   */
  close(): Promise<void> {
    const name = this.#unlink && !this.closed ? this.name : '';
    return this.#closing.close(() => {
      this.socket.close();
      if (name !== '') unlinkName(this.process, name);
    });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
