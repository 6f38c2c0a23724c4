/**
 * A call restarted under SA_RESTART is made again from the start: its
 * descriptor is looked up again and may name a file of another kind by then
 * (closed and its number reused). read(2) and write(2) then go to that
 * kind. Each kind registers how it adopts such a sleeper: the waiter, its
 * reference to the new file already in w.block, and for a write its own
 * copy of the bytes (a block laid out as REST_HEAD says, nothing written).
 */

import { cancel, INTR_CANCELLED, Waiter } from '../wait/waiters';
import { File } from './file';

/** A sleeping write's own copy of its bytes: [bytes u32, offset of the first in the call's data u32, the data's length u32, pad] then the bytes. */
export const REST_HEAD: usize = 16;

/** Runs the call anew on `f`; answers INTR_COMPLETED or INTR_SLEEPING. */
export type Adopt = (w: Waiter, f: File, fd: i32, write: bool, count: u32, rest: usize) => i32;

const KINDS: i32 = 3;
const adopters = memory.data(KINDS * sizeof<usize>(), sizeof<usize>());

export function registerAdopt(kind: i32, adopt: Adopt): void {
  store<usize>(adopters + <usize>kind * sizeof<usize>(), changetype<usize>(adopt));
}

/** The restarted read or write on a file of another kind; a kind that cannot take it (a regular file) ends it with EINTR. */
export function adopt(w: Waiter, f: File, fd: i32, write: bool, count: u32, rest: usize): i32 {
  const hook = load<usize>(adopters + <usize>f.kind * sizeof<usize>());
  if (hook == 0) {
    cancel(w);
    return INTR_CANCELLED;
  }
  return changetype<Adopt>(hook)(w, f, fd, write, count, rest);
}
