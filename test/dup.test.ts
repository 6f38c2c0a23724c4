/**
 * dup, dup2 and dup3, one body on every backend: a duplicate names the same
 * open file description (shared status flags, its own FD_CLOEXEC), dup2
 * closes what the target named with the wake-ups of that close, and the
 * errors come in ksys_dup3()'s order.
 */

import { describe, expect, it } from 'vitest';
import {
  F_GETFD, F_GETFL, F_SETFD, F_SETFL, FD_CLOEXEC, O_CLOEXEC, O_NONBLOCK, POLLIN,
} from '../host/constants.js';
import { BACKENDS } from './backends.js';
import { withFds } from './fds.js';
import { rejectsWith, throwsWith } from './errors.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);


describe.each(BACKENDS)('dup, dup2, dup3 ($name)', (backend) => {
  const it_ = it.skipIf(backend.unavailable !== undefined);

  it_('dup names the same description: status flags are shared, FD_CLOEXEC is not, and the end stays open until its last descriptor closes', async () => {
    const p = await backend.process();
    await withFds(p, async (fds) => {
      const [r, w] = p.pipe(O_CLOEXEC);
      fds.keep(r, w);
      const d = p.dup(w);
      fds.keep(d);
      expect(d).not.toBe(w);
      expect(p.fcntl(w, F_GETFD)).toBe(FD_CLOEXEC);
      expect(p.fcntl(d, F_GETFD)).toBe(0);
      p.fcntl(d, F_SETFL, O_NONBLOCK);
      expect(p.fcntl(w, F_GETFL) & O_NONBLOCK).toBe(O_NONBLOCK);
      p.fcntl(d, F_SETFL, 0);
      expect(await p.write(d, text('via dup'))).toBe(7);
      fds.close(w);
      expect(str(await p.read(r, 16))).toBe('via dup');
      // the dup still holds the write end: no end of file yet
      expect(await p.poll(r, POLLIN, 0)).toBe(0);
      fds.close(d);
      expect((await p.read(r, 16)).length).toBe(0);
      throwsWith(() => p.dup(w), 'EBADF');
    });
  });

  it_('dup2 closes what newfd named first: a read asleep on the pipe whose last writer that was wakes with end of file; newfd then writes into the other pipe', async () => {
    const p = await backend.process();
    await withFds(p, async (fds) => {
      const [r1, w1] = p.pipe();
      const [r2, w2] = p.pipe();
      fds.keep(r1, w1, r2, w2);
      const sleeping = p.read(r2, 16);
      expect(p.dup2(w1, w2)).toBe(w2);
      expect((await sleeping).length).toBe(0);
      expect(await p.write(w2, text('to pipe 1'))).toBe(9);
      expect(str(await p.read(r1, 16))).toBe('to pipe 1');
      // each number is its own descriptor: FD_CLOEXEC set on one stays off the other
      p.fcntl(w2, F_SETFD, FD_CLOEXEC);
      expect(p.fcntl(w1, F_GETFD)).toBe(0);
    });
  });

  it_('dup2 of a descriptor onto itself answers it when open and EBADF when not; a bad oldfd or a newfd outside the table is EBADF', async () => {
    const p = await backend.process();
    await withFds(p, async (fds) => {
      const [r, w] = p.pipe();
      fds.keep(r, w);
      expect(p.dup2(r, r)).toBe(r);
      fds.close(w);
      throwsWith(() => p.dup2(w, w), 'EBADF');
      throwsWith(() => p.dup2(w, r), 'EBADF');
      expect(p.fcntl(r, F_GETFL)).toBeGreaterThanOrEqual(0); // r untouched by the failed dup2
      throwsWith(() => p.dup2(r, -1), 'EBADF');
      throwsWith(() => p.dup2(r, 0x7fffffff), 'EBADF');
    });
  });

  it_('dup3: O_CLOEXEC sets FD_CLOEXEC on newfd; other flags and oldfd == newfd are EINVAL, checked before the descriptors', async () => {
    const p = await backend.process();
    await withFds(p, async (fds) => {
      const [r, w] = p.pipe();
      const [r2, w2] = p.pipe();
      fds.keep(r, w, r2, w2);
      expect(p.dup3(r, r2, O_CLOEXEC)).toBe(r2);
      expect(p.fcntl(r2, F_GETFD)).toBe(FD_CLOEXEC);
      expect(p.dup3(r, r2, 0)).toBe(r2);
      expect(p.fcntl(r2, F_GETFD)).toBe(0);
      throwsWith(() => p.dup3(r, w2, O_NONBLOCK), 'EINVAL');
      throwsWith(() => p.dup3(r, r, 0), 'EINVAL');
      fds.close(w);
      throwsWith(() => p.dup3(w, w, 0), 'EINVAL'); // before the EBADF
      throwsWith(() => p.dup3(w, r2, 0), 'EBADF');
      throwsWith(() => p.dup3(r, -1, 0), 'EBADF');
      // r2 now reads pipe 1 (whose writer is gone): end of file; pipe 2's read end went with the dup3
      expect((await p.read(r2, 4)).length).toBe(0);
      await rejectsWith(p.write(w2, text('x')), 'EPIPE');
    });
  });
});
