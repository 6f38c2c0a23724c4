/**
 * poll(2) over several descriptors, one body on every backend: revents per
 * descriptor in order, POLLNVAL for a closed one, negative ones skipped, a
 * sleeping poll woken by any of its files, its own timeout answering all
 * zeros, and a signal ending it with EINTR (poll is never restarted).
 */

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { POLLHUP, POLLIN, POLLNVAL, POLLOUT, AF_UNIX, SOCK_STREAM } from '../host/constants.js';
import type { PollFd } from '../host/api.js';
import { BACKENDS } from './backends.js';
import { withFds } from './fds.js';
import { rejectsWith } from './errors.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** RLIMIT_NOFILE's soft limit: the emulator's table holds 1024; native is this process's limit. */
function nofile(backend: string): number {
  if (backend === 'emu') return 1024;
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))!;
  return Number(line.split(/\s+/)[3]);
}


describe.each(BACKENDS)('poll over several descriptors ($name)', (backend) => {
  const it_ = it.skipIf(backend.unavailable !== undefined);

  it_('answers at once with the revents of each, in order: a negative fd is skipped, a closed one is POLLNVAL whatever was asked', async () => {
    const p = await backend.process();
    await withFds(p, async (fds) => {
      const [ra, wa] = p.pipe();
      const [rb, wb] = p.pipe();
      const [rc, wc] = p.pipe();
      fds.keep(ra, wa, rb, wb, rc, wc);
      await p.write(wb, text('b'));
      const set: PollFd[] = [
        { fd: ra, events: POLLIN }, { fd: rb, events: POLLIN }, { fd: -1, events: POLLIN }, { fd: wa, events: POLLOUT },
      ];
      expect(await p.poll(set, 0)).toEqual([0, POLLIN, 0, POLLOUT]);
      expect(await p.poll(set, -1)).toEqual([0, POLLIN, 0, POLLOUT]); // something holds: no sleep
      fds.close(rc);
      expect(await p.poll([{ fd: ra, events: POLLIN }, { fd: rc, events: POLLIN }], -1)).toEqual([0, POLLNVAL]);
      // POLLHUP is reported though not asked: pipe b's writer closes
      fds.close(wb);
      expect(await p.poll([{ fd: rb, events: 0 }], 0)).toEqual([POLLHUP]);
      expect(await p.poll([], 0)).toEqual([]);
    });
  });

  it_('a sleeping poll completes when any of its files changes, with every descriptor asked again; the others stay as they are', async () => {
    const p = await backend.process();
    await withFds(p, async (fds) => {
      const [ra, wa] = p.pipe();
      const [rb, wb] = p.pipe();
      const [s1, s2] = p.socketpair(AF_UNIX, SOCK_STREAM);
      fds.keep(ra, wa, rb, wb, s1, s2);
      const set: PollFd[] = [{ fd: ra, events: POLLIN }, { fd: rb, events: POLLIN }, { fd: s1, events: POLLIN }];
      let polling = p.poll(set, -1);
      await p.write(wb, text('x'));
      expect(await polling).toEqual([0, POLLIN, 0]);
      await p.read(rb, 1);
      polling = p.poll(set, -1);
      await p.send(s2, text('y'));
      expect(await polling).toEqual([0, 0, POLLIN]);
      await p.recv(s1, 1);
      // the same file twice, and a close of the last writer
      polling = p.poll([{ fd: ra, events: POLLIN }, { fd: ra, events: POLLIN }], -1);
      fds.close(wa);
      expect(await polling).toEqual([POLLHUP, POLLHUP]);
      // the completed polls left nothing behind: pipe b and the pair still work
      expect(await p.write(wb, text('z'))).toBe(1);
      expect(await p.poll([{ fd: rb, events: POLLIN }], 0)).toEqual([POLLIN]);
    });
  });

  it_('a poll whose timeout passes answers all zeros; a signal ends a sleeping poll with EINTR, even one whose handler has SA_RESTART', async () => {
    const p = await backend.process();
    await withFds(p, async (fds) => {
      const [ra, wa] = p.pipe();
      const [rb, wb] = p.pipe();
      fds.keep(ra, wa, rb, wb);
      const set: PollFd[] = [{ fd: ra, events: POLLIN }, { fd: rb, events: POLLIN }];
      expect(await p.poll(set, 20)).toEqual([0, 0]);
      const plain = new AbortController();
      const interrupted = p.poll(set, -1, { signal: plain.signal });
      setTimeout(() => plain.abort(), 20);
      await rejectsWith(interrupted, 'EINTR');
      const restart = new AbortController();
      const notRestarted = p.poll(set, -1, { signal: restart.signal });
      setTimeout(() => restart.abort({ restart: true }), 20);
      await rejectsWith(notRestarted, 'EINTR');
      // the call's own timeout option fails it with EAGAIN, as it does every call
      await rejectsWith(p.poll(set, -1, { timeout: 20 }), 'EAGAIN');
      await rejectsWith(p.poll(set, 1000, { timeout: 20 }), 'EAGAIN');
      expect(await p.poll(set, 20, { timeout: 1000 })).toEqual([0, 0]);
      // nothing of the ended polls is left asleep: a write now finds the pipe as it was
      await p.write(wa, text('a'));
      expect(await p.poll(set, -1)).toEqual([POLLIN, 0]);
    });
  });

  it_('more descriptors than RLIMIT_NOFILE is EINVAL; exactly that many is allowed', async () => {
    const p = await backend.process();
    const limit = nofile(backend.name);
    const skipped = (n: number): PollFd[] => Array.from({ length: n }, () => ({ fd: -1, events: POLLIN }));
    await rejectsWith(p.poll(skipped(limit + 1), 0), 'EINVAL');
    expect((await p.poll(skipped(limit), 0)).length).toBe(limit);
  });

  it_('arguments that cannot be a struct pollfd array are a TypeError before any call', async () => {
    const p = await backend.process();
    await expect(p.poll([{ fd: 'x' } as unknown as PollFd], 0)).rejects.toBeInstanceOf(TypeError);
    await expect(p.poll([null as unknown as PollFd], 0)).rejects.toBeInstanceOf(TypeError);
  });
});
