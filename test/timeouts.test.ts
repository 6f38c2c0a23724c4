/**
 * CallOptions on every backend, for each descriptor call that can sleep:
 * `timeout` fails a call that would sleep with EAGAIN once it passes (at
 * once for 0), an already aborted signal fails it with EINTR, and a call
 * that need not sleep ignores both. poll's own timeout argument is its
 * answer "nothing" instead.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AF_UNIX, O_RDONLY, O_WRONLY, POLLIN, POLLOUT, SOCK_DGRAM, SOCK_STREAM } from '../host/constants.js';
import { BACKENDS } from './backends.js';
import { rejectsWith } from './errors.js';
import { withFds } from './fds.js';

describe.each(BACKENDS)('timeouts and aborted signals on descriptor calls ($name)', (backend) => {
  it.skipIf(backend.unavailable !== undefined)('read, write, recv, poll, accept, connect and a FIFO open: EAGAIN after the timeout, at once for 0, EINTR for a signal already aborted; no effect where nothing sleeps', async () => {
    const p = await backend.process();
    const dir = mkdtempSync(join(tmpdir(), 'ipcemu-timeouts-'));
    const aborted = AbortSignal.abort();
    try {
      await withFds(p, async (fds) => {
        const [r, w] = p.pipe();
        fds.keep(r, w);
        for (const opts of [{ timeout: 10 }, { timeout: 0 }]) await rejectsWith(p.read(r, 4, opts), 'EAGAIN');
        await rejectsWith(p.read(r, 4, { signal: aborted }), 'EINTR');
        await p.write(w, new Uint8Array(65536)); // full
        expect((await p.read(r, 1, { timeout: 0, signal: aborted })).length).toBe(1); // data there: no sleep
        // one byte read frees no page slot: the pipe is still full for writes
        for (const opts of [{ timeout: 10 }, { timeout: 0 }]) await rejectsWith(p.write(w, new Uint8Array(10), opts), 'EAGAIN');
        await rejectsWith(p.write(w, new Uint8Array(10), { signal: aborted }), 'EINTR');

        for (const type of [SOCK_STREAM, SOCK_DGRAM]) {
          const [a, b] = p.socketpair(AF_UNIX, type);
          fds.keep(a, b);
          for (const opts of [{ timeout: 10 }, { timeout: 0 }]) await rejectsWith(p.recv(a, 4, 0, opts), 'EAGAIN');
          await rejectsWith(p.recv(a, 4, 0, { signal: aborted }), 'EINTR');
          // poll: the options' timeout is an error, its own timeout the answer 0
          await rejectsWith(p.poll(a, POLLIN, -1, { timeout: 10 }), 'EAGAIN');
          expect(await p.poll(a, POLLIN, 10)).toBe(0);
          expect(await p.poll(a, POLLIN, 10, { timeout: 1000 })).toBe(0);
          expect(await p.poll(a, POLLOUT, -1, { timeout: 0 })).toBe(POLLOUT); // holds: no sleep
        }

        const l = fds.keep(p.socket(AF_UNIX, SOCK_STREAM));
        p.bind(l, join(dir, 'listener'));
        p.listen(l, 0);
        for (const opts of [{ timeout: 10 }, { timeout: 0 }]) await rejectsWith(p.accept(l, 0, opts), 'EAGAIN');
        await rejectsWith(p.accept(l, 0, { signal: aborted }), 'EINTR');
        await p.connect(fds.keep(p.socket(AF_UNIX, SOCK_STREAM)), join(dir, 'listener')); // fills backlog 0
        for (const opts of [{ timeout: 10 }, { timeout: 0 }]) {
          await rejectsWith(p.connect(fds.keep(p.socket(AF_UNIX, SOCK_STREAM)), join(dir, 'listener'), opts), 'EAGAIN');
        }
        await rejectsWith(p.connect(fds.keep(p.socket(AF_UNIX, SOCK_STREAM)), join(dir, 'listener'), { signal: aborted }), 'EINTR');

        p.mkfifo(join(dir, 'fifo'));
        await rejectsWith(p.open(join(dir, 'fifo'), O_RDONLY, 0, { timeout: 10 }), 'EAGAIN');
        await rejectsWith(p.open(join(dir, 'fifo'), O_WRONLY, 0, { timeout: 0 }), 'EAGAIN');
        await rejectsWith(p.open(join(dir, 'fifo'), O_WRONLY, 0, { signal: aborted }), 'EINTR');
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
