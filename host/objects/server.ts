/**
 * UnixServer and connectUnix: named AF_UNIX stream and seqpacket sockets as
 * a server that accepts connections and a client that connects, on any
 * backend. Each connection is a {@link Descriptor} (a Node Duplex, Web
 * streams). A name is a path, an abstract name ('\0' first), or '' for the
 * abstract name bind(2) picks (autobind).
 */

import type { CallOptions, Process } from '../api.js';
import { AF_UNIX, SOCK_CLOEXEC, SOCK_SEQPACKET, SOCK_STREAM } from '../constants.js';
import { Closing, unlinkName } from './closing.js';
import { Descriptor } from './descriptor.js';

export type ConnectionType = 'stream' | 'seqpacket';

export interface UnixServerOptions {
  /** 'stream' (default) or 'seqpacket' (message boundaries kept). */
  type?: ConnectionType;
  /** listen(2)'s backlog: it queues backlog + 1 connections (default 128). */
  backlog?: number;
  /** SOCK_CLOEXEC on the listening socket and on each connection. */
  cloexec?: boolean;
  /** Whether close() removes the socket file of a path name (default true, as Node's net.Server does). */
  unlinkOnClose?: boolean;
}

export interface ConnectOptions extends CallOptions {
  /** 'stream' (default) or 'seqpacket'. */
  type?: ConnectionType;
  /** SOCK_CLOEXEC on the connection. */
  cloexec?: boolean;
}

const TYPES: Record<ConnectionType, number> = { stream: SOCK_STREAM, seqpacket: SOCK_SEQPACKET };

/** A new socket of `type` in `process` with SOCK_CLOEXEC if asked. */
function newSocket(process: Process, type: ConnectionType, cloexec: boolean | undefined): number {
  return process.socket(AF_UNIX, TYPES[type] | (cloexec ? SOCK_CLOEXEC : 0));
}

export class UnixServer implements AsyncDisposable, AsyncIterable<Descriptor> {
  /** The listening socket. */
  readonly listener: Descriptor;
  /** The bound name (getsockname): as given, or the abstract name autobind chose. */
  readonly name: string;
  readonly type: ConnectionType;
  readonly #cloexec: boolean;
  readonly #unlink: boolean;
  /** Ends the accepts still asleep at close: closing the descriptor alone would not end them. */
  readonly #closing = new Closing();

  private constructor(readonly process: Process, fd: number, options: UnixServerOptions) {
    this.type = options.type ?? 'stream';
    this.listener = new Descriptor(process, fd, this.type);
    this.name = process.getsockname(fd);
    this.#cloexec = options.cloexec === true;
    this.#unlink = options.unlinkOnClose !== false && this.name !== '' && this.name.charCodeAt(0) !== 0;
  }

  /** socket, bind and listen: a server at `name` in `process`. @throws the IpcError of the call that failed (EADDRINUSE, ...). */
  static listen(process: Process, name: string, options: UnixServerOptions = {}): UnixServer {
    const fd = newSocket(process, options.type ?? 'stream', options.cloexec);
    try {
      process.bind(fd, name);
      process.listen(fd, options.backlog ?? 128);
      return new UnixServer(process, fd, options);
    } catch (error) {
      process.close(fd);
      throw error;
    }
  }

  /** Whether close() has been called. */
  get closed(): boolean {
    return this.#closing.closed;
  }

  /** accept4: the next connection, sleeping until one comes. Fails with EINTR once the server closes. */
  async accept(opts: CallOptions = {}): Promise<Descriptor> {
    const flags = this.#cloexec ? SOCK_CLOEXEC : 0;
    const fd = await this.#closing.run('accept4', opts, (o) => this.process.accept(this.listener.fd, flags, o));
    return new Descriptor(this.process, fd, this.type);
  }

  /** Each connection as it comes; the iteration ends when the server closes. */
  [Symbol.asyncIterator](): AsyncIterator<Descriptor> {
    return this.#closing.iterate(() => this.accept());
  }

  /**
   * Stops accepting: accepts still asleep fail with EINTR (an iteration
   * ends); once they have settled the listening socket closes and, for a
   * path name, its file is removed (unless `unlinkOnClose` was false).
   * Connections stay open. Resolves when all that is done; calling it
   * again answers the same promise.
   */
  close(): Promise<void> {
    return this.#closing.close(() => {
      this.listener.close();
      if (this.#unlink) unlinkName(this.process, this.name);
    });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * socket and connect: a connection to the server at `name`, sleeping while
 * its queue is full (`signal`, `timeout` as for any call).
 * @throws ENOENT (no such file), ECONNREFUSED (nobody listens there), EAGAIN, EINTR.
 */
export async function connectUnix(process: Process, name: string, options: ConnectOptions = {}): Promise<Descriptor> {
  const type = options.type ?? 'stream';
  const fd = newSocket(process, type, options.cloexec);
  try {
    await process.connect(fd, name, options);
    return new Descriptor(process, fd, type);
  } catch (error) {
    process.close(fd);
    throw error;
  }
}
