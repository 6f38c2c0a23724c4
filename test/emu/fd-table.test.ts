/**
 * The descriptor table: numbers lowest-free from 3, EBADF, EMFILE at
 * RLIMIT_NOFILE (1024), F_GETFL / F_SETFL shared by every descriptor of one
 * open file description (fork, F_DUPFD), F_GETFD / F_SETFD per descriptor,
 * fork copying and exit closing, bad input, and no memory left behind.
 */

import { describe, expect, it } from 'vitest';
import {
  F_GETFD, F_GETFL, F_SETFD, F_SETFL, FIONREAD, O_CLOEXEC, O_DIRECT, O_NONBLOCK, O_RDONLY, O_WRONLY,
} from '../../host/constants.js';
import { emulatorUsage } from '../../host/emu/index.js';
import { BUILDS, expectErrno, expectRejects, kernel, pending, text, turn } from './helpers.js';

const F_DUPFD = 0;
const FD_CLOEXEC = 1;

describe.each(BUILDS)('descriptor table (%s build)', (build) => {
  it('numbers are the lowest free from 3; a closed number is reused; 0-2 and unknown numbers are EBADF', async () => {
    const { root } = await kernel(build);
    const [r, w] = root.pipe();
    expect([r, w]).toEqual([3, 4]);
    const [r2, w2] = root.pipe();
    expect([r2, w2]).toEqual([5, 6]);
    root.close(r);
    expect(root.pipe()).toEqual([3, 7]);
    for (const fd of [0, 1, 2, 99, -1, 2 ** 31 - 1]) expectErrno(() => root.close(fd), 'EBADF');
    root.close(3);
    expectErrno(() => root.close(3), 'EBADF');
    expectErrno(() => root.fcntl(3, F_GETFL), 'EBADF');
    expectErrno(() => root.ioctl(3, FIONREAD), 'EBADF');
    expect(() => root.close(1.5)).toThrow(TypeError);
    for (const fd of [w, r2, w2, 7]) root.close(fd);
  });

  it('EMFILE once 1024 numbers are taken, and pipe2 takes none then', async () => {
    const { root } = await kernel(build);
    const fds: number[] = [];
    for (;;) {
      try {
        fds.push(...root.pipe());
      } catch (error) {
        expect((error as { code?: string }).code).toBe('EMFILE');
        break;
      }
    }
    // 3 ..= 1022 in pipes; 1023 alone is free, and a pipe needs two
    expect(fds.length).toBe(1020);
    expect(Math.max(...fds)).toBe(1022);
    const [r] = [fds[0]!];
    expect(root.fcntl(r, F_DUPFD, 0)).toBe(1023);
    expectErrno(() => root.fcntl(r, F_DUPFD, 0), 'EMFILE');
    expectErrno(() => root.fcntl(r, F_DUPFD, 1024), 'EINVAL');
    for (const fd of [...fds, 1023]) root.close(fd);
  });

  it('F_SETFL changes the open file description: a dup and a forked child see it; F_SETFD is per descriptor', async () => {
    const { root } = await kernel(build);
    const [r, w] = root.pipe(O_CLOEXEC);
    expect(root.fcntl(r, F_GETFL)).toBe(O_RDONLY);
    expect(root.fcntl(w, F_GETFL)).toBe(O_WRONLY);
    expect(root.fcntl(r, F_GETFD)).toBe(FD_CLOEXEC);
    const d = root.fcntl(r, F_DUPFD, 10);
    expect(d).toBe(10);
    expect(root.fcntl(d, F_GETFD)).toBe(0);
    const child = root.fork();
    expect(root.fcntl(r, F_SETFL, O_NONBLOCK | O_DIRECT | 0o1)).toBe(0);
    // the access mode is not F_SETFL's to change; O_DIRECT is a pipe's packet mode
    expect(root.fcntl(d, F_GETFL)).toBe(O_RDONLY | O_NONBLOCK | O_DIRECT);
    expect(child.fcntl(r, F_GETFL)).toBe(O_RDONLY | O_NONBLOCK | O_DIRECT);
    await expectRejects(child.read(r, 4), 'EAGAIN');
    expect(root.fcntl(r, F_SETFD, 0)).toBe(0);
    expect(root.fcntl(r, F_GETFD)).toBe(0);
    expect(child.fcntl(r, F_GETFD)).toBe(FD_CLOEXEC);
    expectErrno(() => root.fcntl(r, 12345), 'EINVAL');
    await child.exit();
    for (const fd of [r, w, d]) root.close(fd);
  });

  it('fork shares the pipe: the child\'s write reaches the parent; EOF only once every write end is closed, the child\'s by its exit', async () => {
    const { root } = await kernel(build);
    const [r, w] = root.pipe();
    const child = root.fork();
    child.close(r);
    expect(child.writeSync(w, text('from child'))).toBe(10);
    root.close(w);
    expect(new TextDecoder().decode(root.readSync(r, 64))).toBe('from child');
    const reading = root.read(r, 64);
    expect(await pending(reading)).toBe(true);
    await child.exit();
    expect((await reading).length).toBe(0);
    root.close(r);
  });

  it('bad input: a negative count is EFAULT (as read(2) answers for the size_t it becomes), a detached buffer a TypeError, a non-integer fd a TypeError; nothing traps', async () => {
    const { k, root } = await kernel(build);
    const [r, w] = root.pipe();
    await expectRejects(root.read(r, -1), 'EFAULT');
    expectErrno(() => root.readSync(r, -5), 'EFAULT');
    await expectRejects(root.read(99, -1), 'EBADF');
    const buf = new Uint8Array(8);
    structuredClone(buf.buffer, { transfer: [buf.buffer] });
    expect(() => root.readInto(r, buf)).toThrow(TypeError);
    expect(() => root.writeSync(w, buf)).toThrow(TypeError);
    await expect(root.write(w, buf)).rejects.toThrow(TypeError);
    await expect(root.read('3' as unknown as number, 1)).rejects.toThrow(TypeError);
    expect(() => root.readInto(r, [1, 2] as unknown as Uint8Array)).toThrow(TypeError);
    // zero-length I/O still looks the descriptor up first
    expectErrno(() => root.readInto(77, new Uint8Array(0)), 'EBADF');
    expect(root.readInto(r, new Uint8Array(0))).toBe(0);
    expect(root.writeSync(w, new Uint8Array(0))).toBe(0);
    // the wrong end
    expectErrno(() => root.writeSync(r, text('x')), 'EBADF');
    expectErrno(() => root.readSync(w, 1), 'EBADF');
    root.close(r);
    root.close(w);
    expect(emulatorUsage(k).sleeping).toBe(0);
  });

  it('closing and exiting free every byte the descriptors used', async () => {
    const { k, root } = await kernel(build);
    // warm up the tables that are kept (token slots, completion buffer, per-user counts)
    const warm = root.pipe();
    const p = root.read(warm[0], 1);
    root.writeSync(warm[1], text('x'));
    await p;
    // and the staging buffer, which keeps the size of the largest bytes staged
    const big = root.write(warm[1], new Uint8Array(200_000));
    root.close(warm[0]);
    await expect(big).resolves.toBe(65536);
    root.close(warm[1]);
    const before = emulatorUsage(k).bytes;
    const a = k.spawn();
    const [r, w] = a.pipe();
    a.writeSync(w, new Uint8Array(100_000));
    const [x, y] = a.socketpair(1, 1);
    await a.send(x, new Uint8Array(5000));
    const child = a.fork();
    const sleeping = child.read(r, 1 << 20); // data is there: completes
    await sleeping;
    const blocked = child.write(w, new Uint8Array(200_000));
    expect(await pending(blocked)).toBe(true);
    await child.exit();
    await a.exit();
    await turn();
    expect(emulatorUsage(k)).toEqual({ bytes: before, sleeping: 0, pending: 0 });
    void y;
  });
});
