/**
 * SocketPair: a friendly handle over socketpair(AF_UNIX) on any backend,
 * each end a {@link Descriptor} with a Node Duplex and Web streams. Named
 * so as not to clash with node:net's Socket.
 */

import type { Process } from '../api.js';
import { AF_UNIX, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_SEQPACKET, SOCK_STREAM } from '../constants.js';
import { Descriptor } from './descriptor.js';
import type { DescriptorDuplex, DuplexStreamOptions } from './stream.js';

export type SocketType = 'stream' | 'dgram' | 'seqpacket';

export interface SocketPairOptions {
  /** SOCK_NONBLOCK on both ends (the streams still wait, in poll). */
  nonblock?: boolean;
  /** SOCK_CLOEXEC on both ends. */
  cloexec?: boolean;
}

const TYPES: Record<SocketType, number> = { stream: SOCK_STREAM, dgram: SOCK_DGRAM, seqpacket: SOCK_SEQPACKET };

export class SocketPair implements Disposable {
  /** The first end. */
  readonly a: Descriptor;
  /** The second end. */
  readonly b: Descriptor;

  /** Handles for the connected descriptors `fdA` and `fdB` of `process` (e.g. a forked child's copies). */
  constructor(readonly process: Process, fdA: number, fdB: number, readonly type: SocketType = 'stream') {
    this.a = new Descriptor(process, fdA, type);
    this.b = new Descriptor(process, fdB, type);
  }

  /** socketpair(AF_UNIX, type): two connected sockets in `process`. */
  static open(process: Process, type: SocketType = 'stream', options: SocketPairOptions = {}): SocketPair {
    const flags = (options.nonblock ? SOCK_NONBLOCK : 0) | (options.cloexec ? SOCK_CLOEXEC : 0);
    const [a, b] = process.socketpair(AF_UNIX, TYPES[type] | flags);
    return new SocketPair(process, a, b, type);
  }

  /** The same two descriptors in another process (a forked child shares them). */
  in(process: Process): SocketPair {
    return new SocketPair(process, this.a.fd, this.b.fd, this.type);
  }

  /**
   * The two ends as Node Duplexes: bytes for 'stream', one Uint8Array per
   * message (objectMode) for 'dgram' and 'seqpacket'.
   */
  duplexes(options?: DuplexStreamOptions): [DescriptorDuplex, DescriptorDuplex] {
    return [this.a.duplex(options), this.b.duplex(options)];
  }

  /** Closes both ends this handle still has open (each only once). */
  close(): void {
    try {
      this.a.close();
    } finally {
      this.b.close();
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
