/**
 * SemaphoreSet: a friendly handle over semget/semop/semctl for a whole set,
 * on any backend. P and V by any amount, wait-for-zero, several operations
 * applied atomically, SEM_UNDO on request — with promises, AbortSignal and
 * `using`. Every error is the IpcError the underlying call raised.
 */

import type { CallOptions, Process, SemBuf, SemidDs, SemidSet } from '../api.js';
import {
  GETALL, GETNCNT, GETPID, GETVAL, GETZCNT, IPC_NOWAIT, IPC_RMID, IPC_SET, IPC_STAT, SEM_UNDO, SETALL,
  SETVAL,
} from '../constants.js';
import { getFlags, removeQuietly, type OpenMode } from './open.js';

export interface SemOpenOptions {
  /** Default 'open' for a key, and always a new set for IPC_PRIVATE. */
  mode?: OpenMode;
  /** Permission bits for a set this call creates (default 0o600), and the access asked for on open. */
  perms?: number;
  /** Semaphores in the set: needed to create one; on open, at most the set's size (0: any). */
  size?: number;
}

export interface AcquireOptions extends CallOptions {
  /** Which semaphore of the set (default 0). */
  index?: number;
  /** Record the opposite adjustment, undone when the process exits (SEM_UNDO). */
  undo?: boolean;
  /** Fail with EAGAIN instead of waiting (IPC_NOWAIT). */
  nowait?: boolean;
}

export interface ReleaseOptions {
  /** Which semaphore of the set (default 0). */
  index?: number;
  /** Record the opposite adjustment, undone when the process exits (SEM_UNDO). */
  undo?: boolean;
}

export class SemaphoreSet implements Disposable {
  /** Whether this handle made the set (IPC_PRIVATE or 'exclusive'): disposing it then removes the set. */
  readonly created: boolean;

  constructor(
    /** The process whose calls this handle makes. */
    readonly process: Process,
    /** The semid. */
    readonly id: number,
    created = false,
  ) {
    this.created = created;
  }

  /** semget with explicit intent; see {@link OpenMode}. */
  static open(process: Process, key: number, options: SemOpenOptions = {}): SemaphoreSet {
    const { flag, created } = getFlags(key, options.mode, options.perms);
    return new SemaphoreSet(process, process.semget(key, options.size ?? 0, flag), created);
  }

  /** How many semaphores the set has. */
  get size(): number {
    return this.stat().sem_nsems;
  }

  /** P: waits until semaphore `index` is at least `n`, then takes `n` (n ≥ 1). */
  acquire(n = 1, options: AcquireOptions = {}): Promise<void> {
    const { index = 0, undo, nowait, ...call } = options;
    return this.process.semop(this.id, [[index, -positive(n), opFlags(undo, nowait)]], call);
  }

  /** V: adds `n` to semaphore `index` (n ≥ 1). Never blocks; ERANGE above semvmx. */
  release(n = 1, options: ReleaseOptions = {}): void {
    const { index = 0, undo } = options;
    this.process.semopSync(this.id, [[index, positive(n), opFlags(undo, false)]]);
  }

  /** Waits until semaphore `index` is 0. */
  waitZero(options: Omit<AcquireOptions, 'undo'> = {}): Promise<void> {
    const { index = 0, nowait, ...call } = options;
    return this.process.semop(this.id, [[index, 0, nowait ? IPC_NOWAIT : 0]], call);
  }

  /** Applies several operations atomically, in order, or none of them (semop). */
  apply(ops: readonly SemBuf[], options: CallOptions = {}): Promise<void> {
    return this.process.semop(this.id, ops, options);
  }

  /** Every semaphore's value (GETALL). */
  get values(): number[] {
    return this.process.semctl(this.id, 0, GETALL);
  }

  /** Sets every value at once (SETALL): clears every process's undo adjustments for the set and wakes sleepers that can now go. */
  set values(values: readonly number[]) {
    this.process.semctl(this.id, 0, SETALL, values);
  }

  /** One semaphore's value (GETVAL). */
  value(index = 0): number {
    return this.process.semctl(this.id, index, GETVAL);
  }

  /** Sets one semaphore's value (SETVAL). */
  setValue(index: number, value: number): void {
    this.process.semctl(this.id, index, SETVAL, value);
  }

  /** Sleepers blocked on semaphore `index`: waiting to decrement (GETNCNT) and waiting for zero (GETZCNT). */
  waiting(index = 0): { decrement: number; zero: number } {
    return {
      decrement: this.process.semctl(this.id, index, GETNCNT),
      zero: this.process.semctl(this.id, index, GETZCNT),
    };
  }

  /** The pid of the last process that operated on semaphore `index` (GETPID). */
  lastPid(index = 0): number {
    return this.process.semctl(this.id, index, GETPID);
  }

  /** The set's semid_ds (IPC_STAT). */
  stat(): SemidDs {
    return this.process.semctl(this.id, 0, IPC_STAT);
  }

  /** Changes owner or mode (IPC_SET). */
  set(changes: SemidSet): void {
    this.process.semctl(this.id, 0, IPC_SET, changes);
  }

  /** Removes the set (IPC_RMID): sleepers fail with EIDRM. */
  remove(): void {
    this.process.semctl(this.id, 0, IPC_RMID);
  }

  /** Removes the set if this handle created it; already removed is fine. */
  [Symbol.dispose](): void {
    if (this.created) removeQuietly(() => this.remove());
  }
}

function positive(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${n}`);
  return n;
}

function opFlags(undo: boolean | undefined, nowait: boolean | undefined): number {
  return (undo ? SEM_UNDO : 0) | (nowait ? IPC_NOWAIT : 0);
}
