/**
 * Pipe and Fifo: friendly handles over pipe2, mkfifo and open on any
 * backend, each end a {@link Descriptor} with Node and Web streams. Every
 * error is the IpcError the underlying call raised.
 */

import type { CallOptions, Process, Stat } from '../api.js';
import {
  F_GETPIPE_SZ, F_SETPIPE_SZ, FIONREAD, O_CLOEXEC, O_DIRECT, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY,
} from '../constants.js';
import { IpcError } from '../errors.js';
import { Descriptor } from './descriptor.js';
import type {
  DescriptorReadable, DescriptorWritable, ReadStreamOptions, WebReadStreamOptions, WebWriteStreamOptions, WritableChunk,
  WriteStreamOptions,
} from './stream.js';

export interface PipeOptions {
  /** O_NONBLOCK on both ends: reads and writes that would sleep fail with EAGAIN (the streams still wait, in poll). */
  nonblock?: boolean;
  /** O_CLOEXEC on both ends. */
  cloexec?: boolean;
  /** O_DIRECT: packet mode (each write of up to 4096 bytes is one packet). */
  direct?: boolean;
}

export class Pipe implements Disposable {
  /** The read end. */
  readonly reader: Descriptor;
  /** The write end. */
  readonly writer: Descriptor;

  /** Handles for descriptors `readFd` and `writeFd` of `process` (e.g. a forked child's copies). */
  constructor(readonly process: Process, readFd: number, writeFd: number) {
    this.reader = new Descriptor(process, readFd, 'pipe');
    this.writer = new Descriptor(process, writeFd, 'pipe');
  }

  /** pipe2: a new pipe in `process`. */
  static open(process: Process, options: PipeOptions = {}): Pipe {
    const flags = (options.nonblock ? O_NONBLOCK : 0) | (options.cloexec ? O_CLOEXEC : 0) | (options.direct ? O_DIRECT : 0);
    const [r, w] = process.pipe(flags);
    return new Pipe(process, r, w);
  }

  get readFd(): number {
    return this.reader.fd;
  }

  get writeFd(): number {
    return this.writer.fd;
  }

  /** The same two descriptors in another process (a forked child shares them); closing there does not close here. */
  in(process: Process): Pipe {
    return new Pipe(process, this.readFd, this.writeFd);
  }

  /** The pipe's capacity in bytes (F_GETPIPE_SZ; 65536 unless resized). */
  get capacity(): number {
    return this.process.fcntl(this.open().fd, F_GETPIPE_SZ);
  }

  /** F_SETPIPE_SZ: asks for `bytes` (rounded up to a power-of-two number of pages); returns the new capacity. */
  resize(bytes: number): number {
    return this.process.fcntl(this.open().fd, F_SETPIPE_SZ, bytes);
  }

  /** FIONREAD: the bytes buffered in the pipe. */
  get buffered(): number {
    return this.process.ioctl(this.open().fd, FIONREAD);
  }

  /** read(2) on the read end; see {@link Descriptor.read}. */
  read(count: number, opts?: CallOptions): Promise<Uint8Array> {
    return this.reader.read(count, opts);
  }

  /** write(2) on the write end; see {@link Descriptor.write}. */
  write(data: Uint8Array | string, opts?: CallOptions): Promise<number> {
    return this.writer.write(data, opts);
  }

  /** A Node Readable over the read end (closes it at the end unless `autoClose: false`). */
  readable(options?: ReadStreamOptions): DescriptorReadable {
    return this.reader.readable(options);
  }

  /** A Node Writable over the write end (closes it at the end unless `autoClose: false`). */
  writable(options?: WriteStreamOptions): DescriptorWritable {
    return this.writer.writable(options);
  }

  /** A Web ReadableStream over the read end. */
  readableStream(options?: WebReadStreamOptions): ReadableStream<Uint8Array> {
    return this.reader.readableStream(options);
  }

  /** A Web WritableStream over the write end. */
  writableStream(options?: WebWriteStreamOptions): WritableStream<WritableChunk> {
    return this.writer.writableStream(options);
  }

  /** `for await (const chunk of pipe)`: the read end's chunks until end of file. */
  [Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    return this.reader.chunks();
  }

  /** Closes both ends this handle still has open (each only once). */
  close(): void {
    try {
      this.reader.close();
    } finally {
      this.writer.close();
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** An end still open, for calls that either end answers alike. */
  private open(): Descriptor {
    return this.reader.closed ? this.writer : this.reader;
  }
}

/** How a FIFO is opened. */
export type FifoAccess = 'read' | 'write' | 'readwrite';

export interface FifoOpenOptions extends CallOptions {
  /** O_NONBLOCK: a read-only open does not wait for a writer; a write-only one with no reader fails with ENXIO. */
  nonblock?: boolean;
  /** O_CLOEXEC. */
  cloexec?: boolean;
}

const ACCESS: Record<FifoAccess, number> = { read: O_RDONLY, write: O_WRONLY, readwrite: O_RDWR };

export class Fifo implements Disposable {
  /** Whether this handle made the FIFO: disposing it then unlinks the path. */
  readonly created: boolean;

  constructor(
    /** The process whose calls this handle makes. */
    readonly process: Process,
    readonly path: string,
    created = false,
  ) {
    this.created = created;
  }

  /** mkfifo: a new FIFO at `path` (mode less the umask 022; default 0o666). @throws EEXIST, ENOENT, EACCES. */
  static make(process: Process, path: string, mode = 0o666): Fifo {
    process.mkfifo(path, mode);
    return new Fifo(process, path, true);
  }

  /** The same path seen by another process (never unlinked by disposing this handle). */
  in(process: Process): Fifo {
    return new Fifo(process, this.path);
  }

  /**
   * Opens the FIFO. 'read' waits until a writer opens it and 'write' until a
   * reader does (an abort of `signal` ends the wait with EINTR);
   * 'readwrite' never waits. The descriptor's streams work as a pipe end's.
   */
  async open(access: FifoAccess, options: FifoOpenOptions = {}): Promise<Descriptor> {
    const { nonblock, cloexec, ...call } = options;
    const flags = ACCESS[access] | (nonblock ? O_NONBLOCK : 0) | (cloexec ? O_CLOEXEC : 0);
    return new Descriptor(this.process, await this.process.open(this.path, flags, 0, call), 'fifo');
  }

  /** stat(2) of the path. */
  stat(): Stat {
    return this.process.stat(this.path);
  }

  /** unlink(2): the name goes; open descriptors stay usable. */
  unlink(): void {
    this.process.unlink(this.path);
  }

  /** Unlinks the path if this handle made it; already gone (ENOENT) is fine. */
  [Symbol.dispose](): void {
    if (!this.created) return;
    try {
      this.unlink();
    } catch (error) {
      if (!(error instanceof IpcError && error.code === 'ENOENT')) throw error;
    }
  }
}
