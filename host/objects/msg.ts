/**
 * MessageQueue: a friendly handle over msgget/msgsnd/msgrcv/msgctl that works
 * on any backend (a simulated process or this process on the real kernel).
 * The shape Python's sysv_ipc users know — open by key, send, receive,
 * remove — with Node's conventions: promises, AbortSignal, `using`, async
 * iteration. Every error is the IpcError the underlying call raised.
 */

import type { CallOptions, Message, MsqidDs, MsqidSet, MType, Process } from '../api.js';
import { IPC_NOWAIT, IPC_RMID, IPC_SET, IPC_STAT, MSG_EXCEPT, MSG_NOERROR } from '../constants.js';
import { IpcError } from '../errors.js';
import { getFlags, removeQuietly, type OpenMode } from './open.js';

export type { OpenMode } from './open.js';

export interface OpenOptions {
  /** Default 'open' for a key, and always a new queue for IPC_PRIVATE. */
  mode?: OpenMode;
  /** Permission bits for a queue this call creates (default 0o600), and the access asked for on open. */
  perms?: number;
}

export interface SendOptions extends CallOptions {
  /** Fail with EAGAIN instead of waiting while the queue is full. */
  nowait?: boolean;
}

export interface ReceiveOptions extends CallOptions {
  /** 0 (default): the oldest; > 0: the oldest of that type; < 0: the lowest type ≤ |type|. */
  type?: MType;
  /** The largest text accepted (default: msgmax, 8192). */
  maxSize?: number;
  /** With a positive type: take the oldest message of any other type (MSG_EXCEPT). */
  except?: boolean;
  /** Cut a longer message to maxSize instead of failing with E2BIG (MSG_NOERROR). */
  noError?: boolean;
  /** Fail with ENOMSG instead of waiting when nothing matches. */
  nowait?: boolean;
}

export interface ReceivedMessage {
  type: MType;
  data: Uint8Array;
}

const DEFAULT_MAX_SIZE = 8192;
const encoder = new TextEncoder();

export class MessageQueue implements Disposable {
  /**
   * Whether this handle made the queue (IPC_PRIVATE or 'exclusive'):
   * disposing such a handle removes the queue. A queue opened with
   * 'create' may or may not have been made by this call — Linux does not say —
   * so it is never removed implicitly.
   */
  readonly created: boolean;

  constructor(
    /** The process whose calls this handle makes. */
    readonly process: Process,
    /** The msqid. */
    readonly id: number,
    created = false,
  ) {
    this.created = created;
  }

  /** msgget with explicit intent; see {@link OpenMode}. */
  static open(process: Process, key: number, options: OpenOptions = {}): MessageQueue {
    const { flag, created } = getFlags(key, options.mode, options.perms);
    return new MessageQueue(process, process.msgget(key, flag), created);
  }

  /** Sends `data` (a string is sent as its UTF-8 bytes) with type `type` (≥ 1). */
  send(type: MType, data: Uint8Array | string, options: SendOptions = {}): Promise<void> {
    const { nowait, ...call } = options;
    return this.process.msgsnd(this.id, type, toBytes(data), nowait ? IPC_NOWAIT : 0, call);
  }

  /** Receives one message; see {@link ReceiveOptions}. */
  async receive(options: ReceiveOptions = {}): Promise<ReceivedMessage> {
    const { type = 0, maxSize = DEFAULT_MAX_SIZE, except, noError, nowait, ...call } = options;
    const flags = (except ? MSG_EXCEPT : 0) | (noError ? MSG_NOERROR : 0) | (nowait ? IPC_NOWAIT : 0);
    return named(await this.process.msgrcv(this.id, maxSize, type, flags, call));
  }

  /** The queue's msqid_ds (IPC_STAT). */
  stat(): MsqidDs {
    return this.process.msgctl(this.id, IPC_STAT);
  }

  /** Changes owner, mode or msg_qbytes (IPC_SET); fields left out keep their values. */
  set(changes: MsqidSet): void {
    this.process.msgctl(this.id, IPC_SET, changes);
  }

  /** Removes the queue (IPC_RMID): sleeping senders and receivers fail with EIDRM. */
  remove(): void {
    this.process.msgctl(this.id, IPC_RMID);
  }

  /** Removes the queue if this handle created it (see {@link created}); already removed is fine. */
  [Symbol.dispose](): void {
    if (this.created) removeQuietly(() => this.remove());
  }

  /**
   * Receives messages one after another, waiting for each, until the queue is
   * removed (the iteration then ends) or the signal aborts (it then throws
   * the EINTR IpcError). `nowait` ends the iteration when nothing matches.
   */
  async *messages(options: ReceiveOptions = {}): AsyncGenerator<ReceivedMessage, void, undefined> {
    for (;;) {
      try {
        yield await this.receive(options);
      } catch (error) {
        if (error instanceof IpcError && (error.code === 'EIDRM' || error.code === 'EINVAL')) return;
        if (error instanceof IpcError && error.code === 'ENOMSG' && options.nowait) return;
        throw error;
      }
    }
  }

  /** `for await (const m of queue)`: every message, oldest first, until the queue is removed. */
  [Symbol.asyncIterator](): AsyncGenerator<ReceivedMessage, void, undefined> {
    return this.messages();
  }
}

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? encoder.encode(data) : data;
}

function named(message: Message): ReceivedMessage {
  return { type: message.mtype, data: message.data };
}
