/**
 * Node and Web streams over a descriptor (a pipe end, a FIFO, a socket), on
 * any backend: every byte moves through the Process's read/write (send/recv
 * for message sockets), so the emulator's model and the real kernel behave
 * alike.
 *
 * Backpressure follows the kernel's buffer: a chunk counts as written only
 * once write(2) took all of it, so a full pipe keeps the stream's buffer
 * full and write() answers false; the stream itself holds at most about
 * highWaterMark bytes beyond what the kernel holds. highWaterMark is small
 * (16 KiB, a quarter of the default pipe) so that the pipe, not the stream,
 * does the buffering.
 *
 * Cancelling (destroy, cancel, abort) interrupts the pending call as a
 * signal whose handler does not restart (EINTR: the kernel keeps every byte
 * the call had not moved), waits for it to settle, then closes the
 * descriptor if the stream owns it (`autoClose`, default true as for fs
 * streams). Bytes a read had taken just before the interrupt are given back
 * to the Descriptor (Descriptor.unshift), so its next read gets them.
 *
 * Waiting never spins: a blocking descriptor sleeps in read/write; an
 * O_NONBLOCK one sleeps in poll(2) between EAGAINs.
 */

import { Duplex, Readable, Writable } from 'node:stream';
import type { Descriptor } from './descriptor.js';

/** Default highWaterMark of the byte streams: 16 KiB. */
export const DEFAULT_HIGH_WATER_MARK = 16 * 1024;
/** Default highWaterMark of message streams, in messages. */
const DEFAULT_MESSAGE_HIGH_WATER_MARK = 16;
/** Largest message a message socket's streams take in one recv unless told otherwise. */
export const DEFAULT_MESSAGE_SIZE = 65536;

export interface StreamOptions {
  /**
   * Close the descriptor when the stream ends, fails or is destroyed
   * (default true, as fs streams do). Pass false to keep using it.
   */
  autoClose?: boolean;
  /** Aborting destroys the stream (Node: with an AbortError), which interrupts its pending call. */
  signal?: AbortSignal;
}

export interface ReadStreamOptions extends StreamOptions {
  /**
   * Bytes read ahead of the consumer, and the count of each read (default
   * 16 KiB). On a message socket: messages (default 16).
   */
  highWaterMark?: number;
  /** Message sockets: the largest message taken (default 65536); a longer one fails the stream with a RangeError. */
  messageSize?: number;
}

export interface WriteStreamOptions extends StreamOptions {
  /** Bytes buffered beyond what the kernel took before write() answers false (default 16 KiB). On a message socket: messages (default 16). */
  highWaterMark?: number;
}

export interface DuplexStreamOptions extends ReadStreamOptions {
  /** highWaterMark of the writing side (default: highWaterMark). */
  writableHighWaterMark?: number;
  /** Keep the readable side open after the writable side ended (default true, as net.Socket). */
  allowHalfOpen?: boolean;
}

export interface WebReadStreamOptions extends StreamOptions {
  /** Bytes asked of each read when the reader brings no buffer of its own (default 16 KiB). */
  chunkSize?: number;
  /** Message sockets: the largest message taken (default 65536). */
  messageSize?: number;
}

export interface WebWriteStreamOptions extends StreamOptions {
  /** Bytes queued before the writer's desiredSize goes to 0 (default 16 KiB). */
  highWaterMark?: number;
}

/** The chunks a writable stream takes: bytes (any view or ArrayBuffer) or a string, sent as UTF-8. */
export type WritableChunk = Uint8Array | ArrayBufferView | ArrayBuffer | string;

const encoder = new TextEncoder();

/**
 * The one call a stream side has in flight (Node asks for one read and one
 * write at a time): its AbortController, and a promise that settles once
 * the call and its bookkeeping are done.
 */
class InFlight {
  #controller: AbortController | undefined;
  #done: Promise<void> = Promise.resolve();

  /** Starts `call`; `settle` must handle its outcome and never throw. */
  start(call: (signal: AbortSignal) => Promise<void>): Promise<void> {
    const controller = new AbortController();
    this.#controller = controller;
    this.#done = call(controller.signal).finally(() => {
      if (this.#controller === controller) this.#controller = undefined;
    });
    return this.#done;
  }

  /** Interrupts the pending call (no restart) and resolves once it settled. */
  cancel(reason: unknown): Promise<void> {
    this.#controller?.abort(reason);
    return this.#done;
  }
}

function toBytes(chunk: WritableChunk): Uint8Array {
  if (typeof chunk === 'string') return encoder.encode(chunk);
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new TypeError(`a chunk must be bytes or a string, got ${typeof chunk}`);
}

/** A read of 0 bytes answers empty data, which means end of file: read at least one. */
function readCount(highWaterMark: number): number {
  return Math.max(1, highWaterMark);
}

/** End of file: an empty read, except on a datagram socket, where an empty datagram is a message. */
function isEnd(descriptor: Descriptor, chunk: Uint8Array): boolean {
  return chunk.length === 0 && descriptor.type !== 'dgram';
}

/** Runs `fn` when `signal` aborts, or at once if it already has. */
function onAbort(signal: AbortSignal | undefined, fn: (reason: unknown) => void): void {
  if (signal === undefined) return;
  if (signal.aborted) fn(signal.reason);
  else signal.addEventListener('abort', () => fn(signal.reason), { once: true });
}

function destroyedError(): Error {
  return new Error('stream destroyed');
}

/** A _destroy body: interrupt what is pending, wait for it, then close if owned. */
function destroyAfter(
  descriptor: Descriptor, autoClose: boolean, pending: Promise<void>, error: Error | null,
  callback: (error?: Error | null) => void,
): void {
  void pending.then(() => {
    let failure = error;
    if (autoClose) {
      try {
        descriptor.close();
      } catch (closeError) {
        failure ??= closeError as Error;
      }
    }
    callback(failure);
  });
}

/** The read side shared by the Readable and the Duplex. */
class ReadSide {
  readonly calls = new InFlight();

  constructor(
    private readonly stream: Readable,
    private readonly descriptor: Descriptor,
    private readonly count: number,
  ) {}

  read(): void {
    const { stream, descriptor } = this;
    void this.calls.start((signal) => descriptor.receive(this.count, signal).then(
      (chunk) => {
        // Destroyed while the read was finishing: the bytes are out of the kernel; keep them for the next read.
        if (stream.destroyed) descriptor.unshift(chunk);
        else stream.push(isEnd(descriptor, chunk) ? null : chunk);
      },
      (error: unknown) => {
        if (!stream.destroyed) stream.destroy(error as Error);
      },
    ));
  }
}

/** The write side shared by the Writable and the Duplex. */
class WriteSide {
  readonly calls = new InFlight();

  constructor(private readonly descriptor: Descriptor) {}

  write(chunk: WritableChunk, callback: (error?: Error | null) => void): void {
    void this.calls.start((signal) => this.descriptor.writeAll(toBytes(chunk), signal).then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    ));
  }

  /** Byte streams: the buffered chunks as one write(2), so small writes cost one call. */
  writev(chunks: Array<{ chunk: WritableChunk }>, callback: (error?: Error | null) => void): void {
    if (chunks.length === 1) return this.write(chunks[0]!.chunk, callback);
    const parts = chunks.map((c) => toBytes(c.chunk));
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of parts) {
      all.set(part, at);
      at += part.length;
    }
    this.write(all, callback);
  }
}

/** What a Node Readable and Writable over `descriptor` share: object mode for message sockets, the high-water mark, the signal. */
function nodeStreamOptions(descriptor: Descriptor, options: { highWaterMark?: number; signal?: AbortSignal }): { objectMode: boolean; highWaterMark: number; signal?: AbortSignal } {
  const messages = descriptor.messages;
  return {
    objectMode: messages,
    highWaterMark: options.highWaterMark ?? (messages ? DEFAULT_MESSAGE_HIGH_WATER_MARK : DEFAULT_HIGH_WATER_MARK),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };
}

/** A Node Readable over a descriptor. `descriptor` is the handle it reads through. */
export class DescriptorReadable extends Readable {
  readonly #side: ReadSide;
  readonly #autoClose: boolean;

  constructor(readonly descriptor: Descriptor, options: ReadStreamOptions = {}) {
    super(nodeStreamOptions(descriptor, options));
    this.#autoClose = options.autoClose ?? true;
    this.#side = new ReadSide(this, descriptor, descriptor.messages ? options.messageSize ?? DEFAULT_MESSAGE_SIZE : readCount(this.readableHighWaterMark));
  }

  override _read(): void {
    this.#side.read();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    destroyAfter(this.descriptor, this.#autoClose, this.#side.calls.cancel(error ?? destroyedError()), error, callback);
  }
}

/** A Node Writable over a descriptor. */
export class DescriptorWritable extends Writable {
  readonly #side: WriteSide;
  readonly #autoClose: boolean;

  constructor(readonly descriptor: Descriptor, options: WriteStreamOptions = {}) {
    super(nodeStreamOptions(descriptor, options));
    this.#autoClose = options.autoClose ?? true;
    this.#side = new WriteSide(descriptor);
  }

  override _write(chunk: WritableChunk, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#side.write(chunk, callback);
  }

  override _writev(chunks: Array<{ chunk: WritableChunk }>, callback: (error?: Error | null) => void): void {
    // Messages keep their boundaries: one send each.
    if (this.descriptor.messages) this.#writeEach(chunks, 0, callback);
    else this.#side.writev(chunks, callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    destroyAfter(this.descriptor, this.#autoClose, this.#side.calls.cancel(error ?? destroyedError()), error, callback);
  }

  #writeEach(chunks: Array<{ chunk: WritableChunk }>, i: number, callback: (error?: Error | null) => void): void {
    const next = chunks[i];
    if (next === undefined) return callback();
    this.#side.write(next.chunk, (error) => (error ? callback(error) : this.#writeEach(chunks, i + 1, callback)));
  }
}

/**
 * A Node Duplex over one descriptor that reads and writes (a socket, or a
 * FIFO opened O_RDWR). Ending the writable side of a socket shuts its
 * sending direction down (SHUT_WR), so the peer reads end of file while
 * this side still reads, as net.Socket does.
 */
export class DescriptorDuplex extends Duplex {
  readonly #reader: ReadSide;
  readonly #writer: WriteSide;
  readonly #autoClose: boolean;

  constructor(readonly descriptor: Descriptor, options: DuplexStreamOptions = {}) {
    const messages = descriptor.messages;
    const hwm = options.highWaterMark ?? (messages ? DEFAULT_MESSAGE_HIGH_WATER_MARK : DEFAULT_HIGH_WATER_MARK);
    super({
      objectMode: messages,
      readableHighWaterMark: hwm,
      writableHighWaterMark: options.writableHighWaterMark ?? hwm,
      allowHalfOpen: options.allowHalfOpen ?? true,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    this.#autoClose = options.autoClose ?? true;
    this.#reader = new ReadSide(this, descriptor, messages ? options.messageSize ?? DEFAULT_MESSAGE_SIZE : readCount(this.readableHighWaterMark));
    this.#writer = new WriteSide(descriptor);
  }

  override _read(): void {
    this.#reader.read();
  }

  override _write(chunk: WritableChunk, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#writer.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.descriptor.type === 'pipe' || this.descriptor.type === 'fifo') return callback();
    try {
      this.descriptor.shutdownWrite();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const reason = error ?? destroyedError();
    const pending = Promise.all([this.#reader.calls.cancel(reason), this.#writer.calls.cancel(reason)]).then(() => undefined);
    destroyAfter(this.descriptor, this.#autoClose, pending, error, callback);
  }
}

export function nodeReadable(descriptor: Descriptor, options?: ReadStreamOptions): DescriptorReadable {
  return new DescriptorReadable(descriptor, options);
}

export function nodeWritable(descriptor: Descriptor, options?: WriteStreamOptions): DescriptorWritable {
  return new DescriptorWritable(descriptor, options);
}

export function nodeDuplex(descriptor: Descriptor, options?: DuplexStreamOptions): DescriptorDuplex {
  return new DescriptorDuplex(descriptor, options);
}

/**
 * A Web ReadableStream over a descriptor. Byte descriptors give a byte
 * stream (type 'bytes'): a BYOB reader's buffer is filled by each read, and
 * nothing is read before a reader asks (highWaterMark 0), so unread bytes
 * stay in the kernel. Message sockets give one Uint8Array per message.
 * End of file closes the stream; cancel interrupts the pending read.
 */
export function webReadable(descriptor: Descriptor, options: WebReadStreamOptions = {}): ReadableStream<Uint8Array> {
  const autoClose = options.autoClose ?? true;
  const calls = new InFlight();
  let cancelled = false;
  const release = (): void => {
    if (autoClose) descriptor.close();
  };
  const cancel = async (reason: unknown): Promise<void> => {
    cancelled = true;
    await calls.cancel(reason ?? destroyedError());
    release();
  };
  const stream = descriptor.messages ? messageSource() : byteSource();
  onAbort(options.signal, (reason) => void stream.cancel(reason));
  return stream;

  function messageSource(): ReadableStream<Uint8Array> {
    const size = options.messageSize ?? DEFAULT_MESSAGE_SIZE;
    return new ReadableStream<Uint8Array>({
      pull: (controller) => calls.start((signal) => descriptor.receive(size, signal).then(
        (message) => {
          if (cancelled) return descriptor.unshift(message);
          if (isEnd(descriptor, message)) {
            release();
            controller.close();
          } else {
            controller.enqueue(message);
          }
        },
        (error: unknown) => {
          if (cancelled) return;
          release();
          controller.error(error);
        },
      )),
      cancel,
    }, { highWaterMark: 0 });
  }

  function byteSource(): ReadableStream<Uint8Array> {
    return new ReadableStream({
      type: 'bytes',
      autoAllocateChunkSize: options.chunkSize ?? DEFAULT_HIGH_WATER_MARK,
      // With autoAllocateChunkSize every pull has a byobRequest, from the reader or allocated for it.
      pull: (controller: ReadableByteStreamController) => {
        const request = controller.byobRequest!;
        const view = request.view!;
        return calls.start((signal) => descriptor.receive(view.byteLength, signal).then(
          (chunk) => {
            if (cancelled) return descriptor.unshift(chunk);
            if (chunk.length === 0) {
              release();
              controller.close();
              request.respond(0);
              return;
            }
            new Uint8Array(view.buffer, view.byteOffset, view.byteLength).set(chunk);
            request.respond(chunk.length);
          },
          (error: unknown) => {
            if (cancelled) return;
            release();
            controller.error(error);
          },
        ));
      },
      cancel,
    }, { highWaterMark: 0 }) as ReadableStream<Uint8Array>;
  }
}

/**
 * A Web WritableStream over a descriptor: each chunk is written whole (one
 * message on a message socket) before the next starts. close() shuts a
 * socket's sending direction down (SHUT_WR) and, with autoClose, closes the
 * descriptor; abort() interrupts the pending write (its bytes already taken
 * stay written).
 */
export function webWritable(descriptor: Descriptor, options: WebWriteStreamOptions = {}): WritableStream<WritableChunk> {
  const autoClose = options.autoClose ?? true;
  const release = (): void => {
    if (autoClose) descriptor.close();
  };
  const socket = descriptor.type !== 'pipe' && descriptor.type !== 'fifo';
  const stream = new WritableStream<WritableChunk>({
    // controller.signal aborts as soon as abort() is called, while the
    // in-flight write still runs: the spec calls the sink's abort only after it settled.
    write: (chunk, controller) => {
      // @types/node 20 lacks WritableStreamDefaultController.signal, which Node 20 has.
      const { signal } = controller as unknown as { signal: AbortSignal };
      return descriptor.writeAll(toBytes(chunk), signal).catch((error: unknown) => {
        // The stream is errored from here on: a failed write releases the descriptor, as fs streams do.
        if (!signal.aborted) release();
        throw error;
      });
    },
    close: () => {
      if (socket) descriptor.shutdownWrite();
      release();
    },
    abort: () => release(),
  }, {
    highWaterMark: options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK,
    size: (chunk) => (typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength),
  });
  onAbort(options.signal, (reason) => void stream.abort(reason).catch(() => undefined));
  return stream;
}
