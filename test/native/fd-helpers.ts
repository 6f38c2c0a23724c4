/**
 * What the descriptor tests share (pipe, fifo, sock): the open descriptors
 * of this process, pipes that close themselves, and a look at which of our
 * threads sleep in a system call whatever its arguments.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { IpcError } from '../../host/errors.js';
import { self } from './helpers.js';

export function openFds(): Set<string> {
  return new Set(readdirSync('/proc/self/fd'));
}

/** A pipe whose ends close themselves (ignoring the ends a test already closed). */
export function pipe(flags = 0): { r: number; w: number } & Disposable {
  const [r, w] = self().pipe(flags);
  return {
    r, w,
    [Symbol.dispose]() {
      for (const fd of [r, w]) {
        try {
          self().close(fd);
        } catch (error) {
          if (!(error instanceof IpcError && error.code === 'EBADF')) throw error;
        }
      }
    },
  };
}


/** Resolves once one of our threads sleeps in system call `nr`, whatever its arguments. */
export async function untilAnySleeping(nr: number, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        const state = stat[stat.lastIndexOf(')') + 2];
        const call = readFileSync(`/proc/self/task/${tid}/syscall`, 'utf8').split(' ');
        if (state === 'S' && Number(call[0]) === nr) return;
      } catch {
        // the thread ended meanwhile
      }
    }
    if (Date.now() > deadline) throw new Error(`no thread asleep in syscall ${nr}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
