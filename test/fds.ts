/** Descriptors a test opens, closed at its end on every backend. */

import type { Process } from '../host/api.js';

export interface Fds {
  /** Puts descriptors on the list; answers the first. */
  keep(...fds: number[]): number;
  /** Closes a descriptor of the list and takes it off. */
  close(fd: number): void;
}

/**
 * Runs `body` with a list of descriptors and closes every one still on it
 * afterwards. A descriptor the test closes goes through `close`, so that no
 * number is closed twice: on native a number closed once may already name
 * another file of this process.
 */
export async function withFds(p: Process, body: (fds: Fds) => Promise<void>): Promise<void> {
  const open = new Set<number>();
  const fds: Fds = {
    keep: (...more) => {
      for (const fd of more) open.add(fd);
      return more[0]!;
    },
    close: (fd) => {
      p.close(fd);
      open.delete(fd);
    },
  };
  try {
    await body(fds);
  } finally {
    for (const fd of open) p.close(fd);
  }
}
