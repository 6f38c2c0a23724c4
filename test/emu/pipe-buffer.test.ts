/**
 * The pipe's buffer as fs/pipe.c keeps it: page slots, the merge rule
 * (checklist 134, 135), PIPE_BUF atomicity, partial non-blocking writes,
 * packets (O_DIRECT), F_GETPIPE_SZ / F_SETPIPE_SZ and the pipe sysctls,
 * and the copies that skip the staging buffer (readInto / writeSync).
 */

import { describe, expect, it } from 'vitest';
import { F_GETPIPE_SZ, F_SETPIPE_SZ, FIONREAD, O_DIRECT, O_NONBLOCK } from '../../host/constants.js';
import { BUILDS, expectErrno, kernel, user } from './helpers.js';

const fill = (n: number, from = 0): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i + from) & 0xff);

describe.each(BUILDS)('pipe buffer (%s build)', (build) => {
  it('example (a): with 1 byte buffered, a 69632-byte write takes 15 whole pages: 61440', async () => {
    const { root } = await kernel(build);
    const [r, w] = root.pipe(O_NONBLOCK);
    expect(root.writeSync(w, fill(1))).toBe(1);
    expect(root.writeSync(w, fill(69632))).toBe(61440);
    expect(root.ioctl(r, FIONREAD)).toBe(61441);
    expect(root.ioctl(w, FIONREAD)).toBe(61441);
    expectErrno(() => root.writeSync(w, fill(1)), 'EAGAIN');
    root.close(r);
    root.close(w);
  });

  it('example (b): sixteen 2049-byte writes fill all slots; a 17th is EAGAIN, 2047 bytes still merge into the last page', async () => {
    const { root } = await kernel(build);
    const [r, w] = root.pipe(O_NONBLOCK);
    for (let i = 0; i < 16; i++) expect(root.writeSync(w, fill(2049, i))).toBe(2049);
    expect(root.ioctl(r, FIONREAD)).toBe(32784);
    expectErrno(() => root.writeSync(w, fill(2049)), 'EAGAIN');
    expectErrno(() => root.writeSync(w, fill(2048)), 'EAGAIN');
    expect(root.writeSync(w, fill(2047))).toBe(2047);
    expectErrno(() => root.writeSync(w, fill(1)), 'EAGAIN');
    // every byte comes back in order: 16 slots of 2049 bytes, the last one holding 2047 more (17 pieces, past the 16 segments)
    const out = new Uint8Array(40000);
    expect(root.readInto(r, out)).toBe(32784 + 2047);
    for (let i = 0; i < 16; i++) expect(out.subarray(i * 2049, (i + 1) * 2049)).toEqual(fill(2049, i));
    expect(out.subarray(32784, 32784 + 2047)).toEqual(fill(2047));
    root.close(r);
    root.close(w);
  });

  it('reading the front of the last page frees no room behind it (135); reading it whole frees the slot', async () => {
    const { root } = await kernel(build);
    const [r, w] = root.pipe(O_NONBLOCK);
    for (let i = 0; i < 16; i++) root.writeSync(w, fill(4000));
    expect(root.readSync(r, 100).length).toBe(100);
    expectErrno(() => root.writeSync(w, fill(97)), 'EAGAIN'); // 4000 + 97 > 4096 behind the last page's data
    expect(root.writeSync(w, fill(96))).toBe(96);
    expect(root.readSync(r, 3900).length).toBe(3900); // the first slot is free now
    expect(root.writeSync(w, fill(4096))).toBe(4096);
    root.close(r);
    root.close(w);
  });

  it('up to PIPE_BUF a non-blocking write is all or nothing; above it it writes whole free pages; 65536 + 4096 gives 65536', async () => {
    const { root } = await kernel(build);
    const [r, w] = root.pipe(O_NONBLOCK);
    expect(root.writeSync(w, fill(65536 + 4096))).toBe(65536);
    root.readSync(r, 4095);
    expectErrno(() => root.writeSync(w, fill(4096)), 'EAGAIN');
    root.readSync(r, 1);
    expect(root.writeSync(w, fill(4096))).toBe(4096);
    root.readSync(r, 8192);
    expect(root.writeSync(w, fill(10000))).toBe(8192);
    root.close(r);
    root.close(w);
  });

  it('O_DIRECT writes packets of at most a page; a read takes one packet and drops what does not fit', async () => {
    const { root } = await kernel(build);
    const [r, w] = root.pipe(O_DIRECT | O_NONBLOCK);
    root.writeSync(w, fill(10));
    root.writeSync(w, fill(5000));
    expect(root.readSync(r, 100)).toEqual(fill(10));
    expect(root.readSync(r, 100)).toEqual(fill(100)); // the first page of the 5000: the rest of it is gone
    expect(root.readSync(r, 8192)).toEqual(fill(904, 4096));
    expectErrno(() => root.readSync(r, 1), 'EAGAIN');
    root.close(r);
    root.close(w);
  });

  it('F_SETPIPE_SZ rounds to a power of two pages, refuses fewer slots than are used (EBUSY), > 2^31 (EINVAL), > pipe-max-size without CAP_SYS_RESOURCE (EPERM)', async () => {
    const { root } = await kernel(build);
    const [r, w] = root.pipe(O_NONBLOCK);
    expect(root.fcntl(r, F_GETPIPE_SZ)).toBe(65536);
    expect(root.fcntl(w, F_SETPIPE_SZ, 0)).toBe(4096);
    expect(root.fcntl(r, F_GETPIPE_SZ)).toBe(4096);
    expect(root.fcntl(r, F_SETPIPE_SZ, 4097)).toBe(8192);
    root.writeSync(w, fill(8192));
    expectErrno(() => root.fcntl(r, F_SETPIPE_SZ, 4096), 'EBUSY');
    expect(root.fcntl(r, F_SETPIPE_SZ, 1 << 20)).toBe(1 << 20);
    expect(root.readSync(r, 10000)).toEqual(fill(8192)); // the bytes moved with the ring
    expectErrno(() => root.fcntl(r, F_SETPIPE_SZ, 2 ** 31 + 1), 'EINVAL');
    expectErrno(() => root.fcntl(r, F_SETPIPE_SZ, -1), 'EINVAL');
    root.close(r);
    root.close(w);
  });

  it('a process without CAP_SYS_RESOURCE may not grow a pipe past pipe-max-size; one with it may; the sysctl is per kernel', async () => {
    const { k, root } = await kernel(build, { limits: { pipe_max_size: 100_000 } });
    expect(k.limits.pipe_max_size).toBe(131072);
    const plain = k.spawn({ caps: 0n });
    const [r, w] = plain.pipe();
    expect(plain.fcntl(r, F_SETPIPE_SZ, 131072)).toBe(131072);
    expectErrno(() => plain.fcntl(r, F_SETPIPE_SZ, 262144), 'EPERM');
    const [r2, w2] = root.pipe();
    expect(root.fcntl(r2, F_SETPIPE_SZ, 262144)).toBe(262144);
    k.setLimits({ pipe_max_size: 8192 });
    const [r3, w3] = plain.pipe();
    expect(plain.fcntl(r3, F_GETPIPE_SZ)).toBe(8192); // alloc_pipe_info keeps a new pipe within it
    for (const fd of [r, w, r3, w3]) plain.close(fd);
    root.close(r2);
    root.close(w2);
  });

  it('over pipe-user-pages-soft an unprivileged user gets 2-slot pipes and cannot grow them; over the hard limit no pipe (ENFILE)', async () => {
    const { k } = await kernel(build, { limits: { pipe_user_pages_soft: 32, pipe_user_pages_hard: 40 } });
    const u = user(k);
    const a = u.pipe();
    const b = u.pipe();
    expect(u.fcntl(b[0], F_GETPIPE_SZ)).toBe(65536); // 32 pages: not over
    const c = u.pipe();
    expect(u.fcntl(c[0], F_GETPIPE_SZ)).toBe(8192);
    expectErrno(() => u.fcntl(c[0], F_SETPIPE_SZ, 16384), 'EPERM');
    expect(u.fcntl(c[0], F_SETPIPE_SZ, 4096)).toBe(4096); // shrinking is always allowed
    const d = u.pipe(); // 32 + 1 + 2 = 35 pages
    const e = u.pipe(); // 37
    const f = u.pipe(); // 39
    expectErrno(() => u.pipe(), 'ENFILE'); // 41 > 40
    u.close(a[0]);
    u.close(a[1]); // 16 pages come back
    const g = u.pipe();
    expect(u.fcntl(g[0], F_GETPIPE_SZ)).toBe(8192); // still over the soft limit with 16 more
    for (const p of [b, c, d, e, f, g]) { u.close(p[0]); u.close(p[1]); }
  });

  it('writeSync and readInto copy straight between the caller and the pages, across the ring\'s wrap', async () => {
    const { root } = await kernel(build);
    const [r, w] = root.pipe(O_NONBLOCK);
    const out = new Uint8Array(65536);
    for (let round = 0; round < 5; round++) {
      // 3 pages in, then read all: the slots used move round the ring
      const data = fill(12288 + round, round);
      expect(root.writeSync(w, data)).toBe(data.length);
      expect(root.readInto(r, out)).toBe(data.length);
      expect(out.subarray(0, data.length)).toEqual(data);
    }
    const big = fill(65536, 7);
    expect(root.writeSync(w, big)).toBe(65536);
    expect(root.readInto(r, out)).toBe(65536);
    expect(out).toEqual(big);
    root.close(r);
    root.close(w);
  });
});
