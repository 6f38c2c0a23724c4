/**
 * Anonymous pipes on the native backend (host/native/fd.ts over
 * native/pipe.cc): checklist section E as the real kernel answers it, sync
 * forms that never sleep nor touch O_NONBLOCK, blocking calls on the pool
 * with cancellation (EINTR, SA_RESTART, partial counts), EPIPE with SIGPIPE
 * ignored, a pipe end read as a Node stream, and no descriptor leaked.
 */

import { readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  F_GETFL, F_GETPIPE_SZ, F_SETFL, F_SETPIPE_SZ, FIONREAD, O_CLOEXEC, O_NONBLOCK, O_RDONLY, O_WRONLY, POLLERR,
  POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM,
} from '../../host/constants.js';
import { openFds, pipe, untilAnySleeping } from './fd-helpers.js';
import { bytes, native, rejectsWith, self, throwsWith, titled, untilSleeping } from './helpers.js';

/** x86_64 syscall numbers of the calls a pool thread sleeps in. */
const NR = { read: 0, write: 1, poll: 7 } as const;

const text = (data: Uint8Array) => new TextDecoder().decode(data);

describe.skipIf(native.unavailable !== undefined)(titled('native pipes'), () => {
  let before: Set<string>;
  beforeAll(() => {
    before = openFds();
  });
  afterAll(() => {
    // Every descriptor a test made is closed again (the pool's threads hold none).
    expect([...openFds()].filter((fd) => !before.has(fd))).toEqual([]);
  });

  it('pipe2 gives a read end and a write end (F_GETFL), flags on both, bad flags EINVAL', () => {
    const p = self();
    {
      using q = pipe();
      expect(p.fcntl(q.r, F_GETFL) & 3).toBe(O_RDONLY);
      expect(p.fcntl(q.w, F_GETFL) & 3).toBe(O_WRONLY);
      expect(p.fcntl(q.r, F_GETPIPE_SZ)).toBe(65536);
    }
    {
      using q = pipe(O_NONBLOCK | O_CLOEXEC);
      expect(p.fcntl(q.r, F_GETFL) & O_NONBLOCK).toBe(O_NONBLOCK);
      expect(p.fcntl(q.w, F_GETFL) & O_NONBLOCK).toBe(O_NONBLOCK);
      expect(p.fcntl(q.r, 1 /* F_GETFD */)).toBe(1);
    }
    throwsWith(() => p.pipe(0x1), 'EINVAL');
  });

  it('bytes go through; EOF only after the buffered data; zero-length reads and writes', async () => {
    const p = self();
    using q = pipe();
    expect(p.writeSync(q.w, bytes('hello'))).toBe(5);
    expect(p.ioctl(q.r, FIONREAD)).toBe(5);
    expect(p.ioctl(q.w, FIONREAD)).toBe(5);
    expect(text(p.readSync(q.r, 2))).toBe('he');
    expect(p.readSync(q.r, 0)).toEqual(new Uint8Array(0));
    expect(await p.write(q.w, new Uint8Array(0))).toBe(0);
    const into = new Uint8Array(8);
    expect(p.readInto(q.r, into)).toBe(3);
    expect(text(into.subarray(0, 3))).toBe('llo');
    p.writeSync(q.w, bytes('tail'));
    p.close(q.w);
    expect(text(await p.read(q.r, 100))).toBe('tail');
    expect((await p.read(q.r, 100)).length).toBe(0);
    expect(p.readSync(q.r, 100).length).toBe(0);
  });

  it('bad descriptors and wrong ends: EBADF; a negative count is what read(2) answers (EFAULT)', async () => {
    const p = self();
    using q = pipe();
    throwsWith(() => p.readSync(q.w, 1), 'EBADF');
    throwsWith(() => p.writeSync(q.r, bytes('x')), 'EBADF');
    await rejectsWith(p.read(q.w, 1), 'EBADF');
    await rejectsWith(p.write(q.r, bytes('x')), 'EBADF');
    await rejectsWith(p.write(q.r, new Uint8Array(70000)), 'EBADF');
    // fs/read_write.c: vfs_read() checks the mode (EBADF), then access_ok on the
    // size_t the count wraps to (EFAULT), before it could sleep.
    throwsWith(() => p.readSync(q.r, -1), 'EFAULT');
    await rejectsWith(p.read(q.r, -5), 'EFAULT');
    throwsWith(() => p.readSync(q.w, -1), 'EBADF');
    const [r, w] = p.pipe();
    p.close(r);
    p.close(w);
    throwsWith(() => p.close(r), 'EBADF');
    throwsWith(() => p.readSync(r, 1), 'EBADF');
    throwsWith(() => p.fcntl(r, F_GETFL), 'EBADF');
    throwsWith(() => p.ioctl(w, FIONREAD), 'EBADF');
    expect(() => p.readSync(q.r, 1.5)).toThrow(TypeError);
    expect(() => p.writeSync(q.w, 'x' as unknown as Uint8Array)).toThrow(TypeError);
  });

  it('capacity is counted in page slots: the two worked examples of checklist item 134', () => {
    const p = self();
    {
      using q = pipe(O_NONBLOCK);
      p.writeSync(q.w, bytes('x'));
      expect(p.writeSync(q.w, new Uint8Array(69632))).toBe(61440);
      expect(p.ioctl(q.r, FIONREAD)).toBe(61441);
    }
    {
      using q = pipe(O_NONBLOCK);
      for (let i = 0; i < 16; i++) expect(p.writeSync(q.w, new Uint8Array(2049))).toBe(2049);
      throwsWith(() => p.writeSync(q.w, new Uint8Array(2049)), 'EAGAIN');
      expect(p.writeSync(q.w, new Uint8Array(2047))).toBe(2047);
    }
  });

  it('sync forms never sleep and leave the shared O_NONBLOCK alone', () => {
    const p = self();
    using q = pipe();
    const flags = [p.fcntl(q.r, F_GETFL), p.fcntl(q.w, F_GETFL)];
    throwsWith(() => p.readSync(q.r, 10), 'EAGAIN');
    throwsWith(() => p.readInto(q.r, new Uint8Array(4)), 'EAGAIN');
    expect(p.writeSync(q.w, new Uint8Array(65536 + 4096))).toBe(65536);
    throwsWith(() => p.writeSync(q.w, bytes('x')), 'EAGAIN');
    expect([p.fcntl(q.r, F_GETFL), p.fcntl(q.w, F_GETFL)]).toEqual(flags);
  });

  it('F_SETFL O_NONBLOCK makes a blocking read answer EAGAIN; F_SETPIPE_SZ rounds to pages', async () => {
    const p = self();
    using q = pipe();
    p.fcntl(q.r, F_SETFL, O_NONBLOCK);
    await rejectsWith(p.read(q.r, 1), 'EAGAIN');
    expect(p.fcntl(q.w, F_SETPIPE_SZ, 0)).toBe(4096);
    expect(p.fcntl(q.r, F_GETPIPE_SZ)).toBe(4096);
    throwsWith(() => p.fcntl(q.w, F_SETPIPE_SZ, 0xffff_ffff), 'EINVAL');
  });

  it('a blocking read sleeps on a pool thread, off the event loop, and wakes with the bytes written', async () => {
    const p = self();
    using q = pipe();
    const pending = p.read(q.r, 100);
    await untilSleeping(NR.read, q.r, 1);
    let ticks = 0;
    await new Promise((r) => setTimeout(r, 5)).then(() => ticks++);
    expect(ticks).toBe(1);
    p.writeSync(q.w, bytes('late'));
    expect(text(await pending)).toBe('late');
  });

  it('abort: EINTR; abort with restart: the read sleeps on and returns the data', async () => {
    const p = self();
    using q = pipe();
    const plain = new AbortController();
    const first = p.read(q.r, 10, { signal: plain.signal });
    await untilSleeping(NR.read, q.r, 1);
    plain.abort('stop');
    const error = await rejectsWith(first, 'EINTR');
    expect(error.cause).toBe('stop');

    const restart = new AbortController();
    const second = p.read(q.r, 10, { signal: restart.signal });
    await untilSleeping(NR.read, q.r, 1);
    restart.abort({ restart: true });
    // The kernel restarted it: it is asleep in read again (or still).
    await untilSleeping(NR.read, q.r, 1);
    p.writeSync(q.w, bytes('after'));
    expect(text(await second)).toBe('after');

    await rejectsWith(p.read(q.r, 1, { timeout: 1 }), 'EAGAIN');
    const gone = new AbortController();
    gone.abort();
    await rejectsWith(p.read(q.r, 1, { signal: gone.signal }), 'EINTR');
  });

  it('an interrupted write that moved bytes returns their count, with or without restart', async () => {
    const p = self();
    for (const reason of ['stop', { restart: true }]) {
      using q = pipe();
      const ac = new AbortController();
      const pending = p.write(q.w, new Uint8Array(3 * 65536), { signal: ac.signal });
      await untilSleeping(NR.write, q.w, 1);
      ac.abort(reason);
      expect(await pending).toBe(65536);
      expect(p.ioctl(q.r, FIONREAD)).toBe(65536);
    }
  });

  it('a blocking write waits for room, then writes everything', async () => {
    const p = self();
    using q = pipe();
    const pending = p.write(q.w, new Uint8Array(100_000).fill(7));
    await untilSleeping(NR.write, q.w, 1);
    let got = 0;
    while (got < 100_000) got += (await p.read(q.r, 65536)).length;
    expect(await pending).toBe(100_000);
  });

  it('no reader: EPIPE (SIGPIPE is ignored, the process lives); a sleeping writer gets its partial count', async () => {
    const status = readFileSync('/proc/self/status', 'utf8');
    const ignored = BigInt('0x' + /SigIgn:\s*([0-9a-f]+)/.exec(status)![1]);
    expect((ignored >> 12n) & 1n).toBe(1n); // SIGPIPE (13) is ignored
    const p = self();
    {
      using q = pipe();
      p.close(q.r);
      throwsWith(() => p.writeSync(q.w, bytes('x')), 'EPIPE');
      await rejectsWith(p.write(q.w, bytes('x')), 'EPIPE');
      await rejectsWith(p.write(q.w, new Uint8Array(70000)), 'EPIPE');
      // Item 125: a zero-length write succeeds even with no reader.
      expect(p.writeSync(q.w, new Uint8Array(0))).toBe(0);
    }
    {
      using q = pipe();
      const pending = p.write(q.w, new Uint8Array(2 * 65536));
      await untilSleeping(NR.write, q.w, 1);
      p.close(q.r);
      expect(await pending).toBe(65536);
      await rejectsWith(p.write(q.w, bytes('x')), 'EPIPE');
    }
  });

  it('poll: POLLIN/POLLHUP on the read end, POLLOUT/POLLERR on the write end; timeouts; EINTR even with restart', async () => {
    const p = self();
    using q = pipe();
    expect(await p.poll(q.r, POLLIN, 0)).toBe(0);
    expect(await p.poll(q.w, POLLOUT, 0)).toBe(POLLOUT);
    expect(await p.poll(q.r, POLLIN, 5)).toBe(0);
    p.writeSync(q.w, bytes('x'));
    expect(await p.poll(q.r, POLLIN | POLLRDNORM, -1)).toBe(POLLIN | POLLRDNORM);
    p.readSync(q.r, 1);
    for (const reason of ['stop', { restart: true }]) {
      const ac = new AbortController();
      const pending = p.poll(q.r, POLLIN, -1, { signal: ac.signal });
      await untilAnySleeping(NR.poll); // its first argument is the pollfd array's address
      ac.abort(reason);
      await rejectsWith(pending, 'EINTR');
    }
    const woken = p.poll(q.r, POLLIN, -1);
    await new Promise((r) => setTimeout(r, 5));
    p.writeSync(q.w, bytes('y'));
    expect(await woken).toBe(POLLIN);
    p.close(q.w);
    expect(await p.poll(q.r, POLLIN, 0)).toBe(POLLIN | POLLHUP);
    {
      using other = pipe();
      p.close(other.r);
      expect(await p.poll(other.w, POLLOUT | POLLWRNORM, 0)).toBe(POLLOUT | POLLWRNORM | POLLERR);
    }
  });

  it('a read end is readable as a Node stream (libuv owns the fd afterwards)', async () => {
    const p = self();
    const [r, w] = p.pipe();
    const socket = new Socket({ fd: r, readable: true, writable: false });
    // libuv puts the description in O_NONBLOCK mode (uv__nonblock): every descriptor sharing it sees that.
    expect(p.fcntl(r, F_GETFL) & O_NONBLOCK).toBe(O_NONBLOCK);
    const chunks: Buffer[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', resolve);
      socket.on('error', reject);
    });
    await p.write(w, bytes('from the native pipe'));
    p.close(w);
    await ended;
    socket.destroy();
    await new Promise((resolve) => socket.on('close', resolve));
    expect(Buffer.concat(chunks).toString()).toBe('from the native pipe');
    // libuv closed it: closing it through the Process now would hit EBADF
    // (or, worse, a descriptor reused by something else meanwhile).
    throwsWith(() => p.fcntl(r, F_GETFL), 'EBADF');
  });
});
