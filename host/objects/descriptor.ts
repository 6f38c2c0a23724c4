/**
 * Descriptor: one open descriptor of one process (a pipe end, a FIFO, a
 * socketpair end), on any backend. It closes at most once — a descriptor
 * number is reused by the next open, so a second close(2) would close
 * someone else's — and keeps the bytes a cancelled stream had already taken
 * from the kernel, so that the next read gets them.
 *
 * The stream adapters (stream.ts) wait through O_NONBLOCK with poll(2)
 * instead of spinning: a would-block answer (EAGAIN) parks the call in poll
 * until the descriptor is ready, then tries again.
 */

import type { CallOptions, Process } from '../api.js';
import {
  F_GETFL, F_SETFL, FIONREAD, MSG_TRUNC, O_NONBLOCK, POLLIN, POLLOUT, SHUT_WR,
} from '../constants.js';
import { ERRNO, IpcError } from '../errors.js';
import {
  DEFAULT_MESSAGE_SIZE, nodeDuplex, nodeReadable, nodeWritable, webReadable, webWritable,
  type DescriptorDuplex, type DescriptorReadable, type DescriptorWritable, type WritableChunk,
  type DuplexStreamOptions, type ReadStreamOptions, type WebReadStreamOptions, type WebWriteStreamOptions, type WriteStreamOptions,
} from './stream.js';

/**
 * What the descriptor is, which decides how bytes move: pipes, FIFOs and
 * stream sockets are byte streams (read/write); datagram and seqpacket
 * sockets keep message boundaries (send/recv, one chunk per message).
 */
export type DescriptorType = 'pipe' | 'fifo' | 'stream' | 'dgram' | 'seqpacket';

const encoder = new TextEncoder();

export class Descriptor implements Disposable {
  #closed = false;
  /** Bytes taken from the kernel by a read that finished after its stream was cancelled: served first. */
  #unread: Uint8Array[] = [];

  constructor(
    /** The process whose descriptor this is. */
    readonly process: Process,
    /** The descriptor number in that process's table. */
    readonly fd: number,
    readonly type: DescriptorType = 'pipe',
  ) {}

  /** Whether this handle closed the descriptor. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Whether chunks are messages (datagram and seqpacket sockets) rather than slices of a byte stream. */
  get messages(): boolean {
    return this.type === 'dgram' || this.type === 'seqpacket';
  }

  /** FIONREAD: unread bytes in the kernel (for a datagram socket, the next datagram's size), plus any kept here. */
  get available(): number {
    let kept = 0;
    for (const chunk of this.#unread) kept += chunk.length;
    return kept + this.process.ioctl(this.fd, FIONREAD);
  }

  /** O_NONBLOCK of the open file description (shared with every dup and forked copy of it). */
  get nonblocking(): boolean {
    return (this.process.fcntl(this.fd, F_GETFL) & O_NONBLOCK) !== 0;
  }

  set nonblocking(on: boolean) {
    const fl = this.process.fcntl(this.fd, F_GETFL);
    this.process.fcntl(this.fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
  }

  /**
   * read(2) of up to `count` bytes, bytes kept by a cancelled stream first.
   * Empty data at end of file; EAGAIN on an empty O_NONBLOCK descriptor.
   * On a message socket, one message (its tail past `count` is dropped, as recv(2) drops it).
   */
  read(count: number, opts?: CallOptions): Promise<Uint8Array> {
    const kept = this.#takeUnread(count);
    if (kept !== undefined) return Promise.resolve(kept);
    return this.process.read(this.fd, count, opts);
  }

  /** write(2): returns the bytes written (a string goes as its UTF-8 bytes). */
  write(data: Uint8Array | string, opts?: CallOptions): Promise<number> {
    return this.process.write(this.fd, typeof data === 'string' ? encoder.encode(data) : data, opts);
  }

  /**
   * Gives bytes back to be read first, before anything still in the kernel
   * (as Readable.unshift does). The streams use it for bytes a read had
   * already taken when the stream was cancelled.
   */
  unshift(bytes: Uint8Array): void {
    if (bytes.length !== 0) this.#unread.unshift(bytes);
  }

  /**
   * Reads the next chunk, waiting even on an O_NONBLOCK descriptor (poll for
   * POLLIN, then read again). Empty data at end of file. On a message socket
   * one whole message of at most `count` bytes: a longer one is a RangeError
   * (its tail is gone, as recv(2) drops it; Linux has no errno for this).
   */
  async receive(count: number, signal?: AbortSignal): Promise<Uint8Array> {
    const kept = this.#takeUnread(count);
    if (kept !== undefined) return kept;
    const opts: CallOptions = signal === undefined ? {} : { signal };
    for (;;) {
      try {
        if (!this.messages) return await this.process.read(this.fd, count, opts);
        const got = await this.process.recv(this.fd, count, MSG_TRUNC, opts);
        if (got.length > got.data.length) {
          throw new RangeError(`a ${got.length} byte message is longer than the ${count} bytes asked for; its tail was dropped`);
        }
        return got.data;
      } catch (error) {
        if (!isCode(error, 'EAGAIN')) throw error;
      }
      await this.process.poll(this.fd, POLLIN, -1, opts);
    }
  }

  /**
   * Writes all of `data`, however many calls it takes: a blocking write may
   * return early only when interrupted, a non-blocking one whenever the
   * buffer is full (then poll for POLLOUT and go on). On a message socket
   * `data` is one message, sent whole. Resolves once the kernel has taken
   * every byte; if `signal` aborts part-way, rejects with the EINTR IpcError
   * and the bytes already taken stay written.
   */
  async writeAll(data: Uint8Array, signal?: AbortSignal): Promise<void> {
    const opts: CallOptions = signal === undefined ? {} : { signal };
    let done = 0;
    // A zero-length message is still a message; a zero-length byte write moves nothing.
    if (data.length === 0 && !this.messages) return;
    for (;;) {
      try {
        const rest = done === 0 ? data : data.subarray(done);
        done += this.messages
          ? await this.process.send(this.fd, rest, 0, opts)
          : await this.process.write(this.fd, rest, opts);
        if (done >= data.length) return;
      } catch (error) {
        if (!isCode(error, 'EAGAIN')) throw error;
        await this.process.poll(this.fd, POLLOUT, -1, opts);
        continue;
      }
      // Moved some bytes but not all: an interrupt (the signal said stop) or a full O_NONBLOCK pipe.
      if (signal?.aborted) throw new IpcError(ERRNO.EINTR, this.messages ? 'send' : 'write', { cause: signal.reason });
    }
  }

  /** shutdown(2) SHUT_WR on a socket: the peer reads end of file once the queued data is read. */
  shutdownWrite(): void {
    this.process.shutdown(this.fd, SHUT_WR);
  }

  /** A Node Readable over this descriptor; see {@link ReadStreamOptions}. */
  readable(options?: ReadStreamOptions): DescriptorReadable {
    return nodeReadable(this, options);
  }

  /** A Node Writable over this descriptor; see {@link WriteStreamOptions}. */
  writable(options?: WriteStreamOptions): DescriptorWritable {
    return nodeWritable(this, options);
  }

  /** A Node Duplex over this descriptor (a socket, or a FIFO opened O_RDWR); see {@link DuplexStreamOptions}. */
  duplex(options?: DuplexStreamOptions): DescriptorDuplex {
    return nodeDuplex(this, options);
  }

  /** A Web ReadableStream of bytes (BYOB readers welcome); see {@link WebReadStreamOptions}. */
  readableStream(options?: WebReadStreamOptions): ReadableStream<Uint8Array> {
    return webReadable(this, options);
  }

  /** A Web WritableStream; see {@link WebWriteStreamOptions}. */
  writableStream(options?: WebWriteStreamOptions): WritableStream<WritableChunk> {
    return webWritable(this, options);
  }

  /**
   * The chunks read one after another until end of file, without a stream's
   * read-ahead: `for await (const chunk of fd.chunks())`. Breaking out leaves
   * the descriptor open; an abort of `signal` ends the wait with EINTR.
   */
  async *chunks(options: { size?: number; signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array, void, undefined> {
    const size = options.size ?? (this.messages ? DEFAULT_MESSAGE_SIZE : 65536);
    for (;;) {
      const chunk = await this.receive(size, options.signal);
      if (chunk.length === 0 && this.type !== 'dgram') return;
      yield chunk;
    }
  }

  /** close(2), once: later calls do nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.process.close(this.fd);
  }

  /**
   * Hands the descriptor over without closing it (e.g. to `new net.Socket({ fd })`,
   * which then owns and closes it): this handle will not close it again.
   * Bytes kept by a cancelled stream stay here. @returns the descriptor number.
   */
  detach(): number {
    this.#closed = true;
    return this.fd;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #takeUnread(count: number): Uint8Array | undefined {
    const first = this.#unread[0];
    if (first === undefined || !(count > 0)) return undefined;
    // A kept message goes out whole: the stream that kept it had already checked its size.
    if (first.length <= count || this.messages) {
      this.#unread.shift();
      return first;
    }
    this.#unread[0] = first.subarray(count);
    return first.subarray(0, count);
  }
}

function isCode(error: unknown, code: string): boolean {
  return error instanceof IpcError && error.code === code;
}
