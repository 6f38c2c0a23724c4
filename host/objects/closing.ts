/**
 * What a server or a socket object does to close while calls of its own
 * sleep (UnixServer's accepts, UnixDatagram's receives): abort them (EINTR),
 * and close the descriptor only after they have settled, so that none meets
 * its number reused (on native a worker may not have entered the call yet).
 */

import type { CallOptions, Process } from '../api.js';
import { ERRNO, IpcError } from '../errors.js';

export class Closing {
  readonly #abort = new AbortController();
  readonly #pending = new Set<Promise<unknown>>();
  #closed: Promise<void> | undefined;

  /** Whether close() has been called. */
  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /**
   * Runs `call` with the caller's options, its signal joined to the one close
   * aborts, and keeps it tracked until it settles. EINTR for `syscall` once closed.
   */
  async run<T>(syscall: string, opts: CallOptions, call: (opts: CallOptions) => Promise<T>): Promise<T> {
    if (this.closed) throw new IpcError(ERRNO.EINTR, syscall);
    const own = this.#abort.signal;
    const running = call({ ...opts, signal: opts.signal === undefined ? own : AbortSignal.any([opts.signal, own]) });
    this.#pending.add(running);
    try {
      return await running;
    } finally {
      this.#pending.delete(running);
    }
  }

  /** `next()` again and again until close() ends it with EINTR. */
  async *iterate<T>(next: () => Promise<T>): AsyncGenerator<T> {
    while (!this.closed) {
      try {
        yield await next();
      } catch (error) {
        if (this.closed && error instanceof IpcError && error.code === 'EINTR') return;
        throw error;
      }
    }
  }

  /** Aborts the sleeping calls, then, once they have settled, runs `shut` (once: a second close answers the same promise). */
  close(shut: () => void): Promise<void> {
    this.#closed ??= (async () => {
      this.#abort.abort();
      await Promise.allSettled([...this.#pending]);
      shut();
    })();
    return this.#closed;
  }
}

/** Removes a socket's file, unless someone already has (ENOENT). */
export function unlinkName(process: Process, path: string): void {
  try {
    process.unlink(path);
  } catch (error) {
    if (!(error instanceof IpcError && error.code === 'ENOENT')) throw error;
  }
}
