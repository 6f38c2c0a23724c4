/** Descriptors a test opens, closed at its end on every backend. */

import type { Process } from '../host/api.js';

/** Runs `body` with a list to put descriptors on; closes each one still open afterwards (those the test closed are skipped). */
export async function withFds(p: Process, body: (fds: number[]) => Promise<void>): Promise<void> {
  const fds: number[] = [];
  try {
    await body(fds);
  } finally {
    for (const fd of new Set(fds)) {
      try { p.close(fd); } catch { /* closed by the test */ }
    }
  }
}
