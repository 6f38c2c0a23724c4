/**
 * The emulator's poll over several descriptors, where Process calls cannot
 * look: a sleeping poll set holds an entry on each file's wait list, and
 * every way it ends (completion, signal, timeout, its process's exit) takes
 * all of them away and frees every byte; dup2 onto a number an open still
 * sleeps for is EBUSY.
 */

import { describe, expect, it } from 'vitest';
import { O_RDONLY, POLLIN, POLLOUT } from '../../host/constants.js';
import { emulatorUsage } from '../../host/emu/index.js';
import { BUILDS, expectErrno, expectRejects, kernel, pending, text, turn } from './helpers.js';

describe.each(BUILDS)('poll set and dup (%s build)', (build) => {
  it('a poll set ended every way leaves nothing asleep and no byte behind', async () => {
    const { k, root } = await kernel(build);
    // warm up the tables that are kept (token slots, completion buffer, staging buffer)
    const warm = root.pipe();
    const warming = root.poll([{ fd: warm[0], events: POLLIN }, { fd: warm[0], events: POLLIN }], -1);
    root.writeSync(warm[1], text('x'));
    await warming;
    root.close(warm[0]);
    root.close(warm[1]);
    const before = emulatorUsage(k).bytes;

    const a = k.spawn();
    const [r1, w1] = a.pipe();
    const [r2, w2] = a.pipe();
    const [s1, s2] = a.socketpair(1, 1);
    const set = [{ fd: r1, events: POLLIN }, { fd: r2, events: POLLIN }, { fd: s1, events: POLLIN }, { fd: -5, events: POLLIN }];
    // completed by a write on one file while the others stay quiet
    let polling = a.poll(set, -1);
    expect(await pending(polling)).toBe(true);
    expect(emulatorUsage(k).sleeping).toBe(4); // the call, and an entry for each of its three files
    a.writeSync(w2, text('y'));
    expect(await polling).toEqual([0, POLLIN, 0, 0]);
    expect(emulatorUsage(k).sleeping).toBe(0);
    a.readSync(r2, 1);
    // two of its files change in one call: one completion
    polling = a.poll(set, -1);
    await turn();
    a.close(w1); // wakes r1's entry with POLLHUP
    expect(await polling).toEqual([0x10, 0, 0, 0]);
    a.close(r1);
    // a signal
    const ac = new AbortController();
    polling = a.poll(set.slice(1), -1, { signal: ac.signal });
    await turn();
    ac.abort();
    await expectRejects(polling, 'EINTR');
    // its timeout
    expect(await a.poll([{ fd: r2, events: POLLIN }, { fd: s1, events: POLLIN }], 5)).toEqual([0, 0]);
    // its process exits; and a forked child's poll on the same files
    const child = a.fork();
    const childPoll = child.poll([{ fd: r2, events: POLLIN }, { fd: w2, events: POLLIN }], -1);
    polling = a.poll([{ fd: r2, events: POLLIN }, { fd: s1, events: POLLIN }], -1);
    await turn();
    expect(emulatorUsage(k).sleeping).toBe(6); // each call and its two entries
    await child.exit();
    expect(await pending(childPoll)).toBe(true); // an exit answers nobody
    await a.send(s2, text('z'));
    expect(await polling).toEqual([0, POLLIN]);
    const last = a.poll([{ fd: r2, events: POLLIN }], -1);
    await a.exit();
    expect(await pending(last)).toBe(true);
    await turn();
    expect(emulatorUsage(k).sleeping).toBe(0);
    expect(emulatorUsage(k).bytes).toBe(before);
  });

  it('a poll set asleep on a file keeps that file open after its descriptor is closed, and answers POLLNVAL once woken', async () => {
    const { root } = await kernel(build);
    const [r, w] = root.pipe();
    const [r2, w2] = root.pipe();
    const polling = root.poll([{ fd: r, events: POLLIN }, { fd: r2, events: POLLIN }], -1);
    await turn();
    root.close(r);
    // the poll's entry holds the read end: a write still finds a reader
    expect(root.writeSync(w, text('a'))).toBe(1);
    // do_poll's next pass looks the numbers up again: r is gone
    expect(await polling).toEqual([0x20, 0]);
    // with the poll gone the read end is closed: now a write has no reader
    expectErrno(() => root.writeSync(w, text('b')), 'EPIPE');
    for (const fd of [w, r2, w2]) root.close(fd);
  });

  it('dup2 onto the number an open asleep in a FIFO rendezvous has taken is EBUSY; onto 0-2 it works, and closing them frees the number', async () => {
    const { k, root } = await kernel(build);
    const path = `/tmp/ipcemu-dup-busy-${process.pid}-${build}`;
    root.mkfifo(path);
    const opening = root.open(path, O_RDONLY);
    expect(await pending(opening)).toBe(true);
    const [r, w] = root.pipe();
    expect([r, w]).toEqual([4, 5]); // 3 is the sleeping open's
    expectErrno(() => root.dup2(w, 3), 'EBUSY');
    expectErrno(() => root.dup3(w, 3, 0), 'EBUSY');
    expect(root.dup2(w, 1)).toBe(1);
    expect(root.writeSync(1, text('to stdout'))).toBe(9);
    expect(new TextDecoder().decode(root.readSync(r, 16))).toBe('to stdout');
    root.close(1);
    expect(root.dup(w)).toBe(1); // the lowest free number again
    expect(await root.poll([{ fd: 1, events: POLLOUT }], 0)).toEqual([POLLOUT]);
    const other = k.spawn();
    await other.open(path, 1 /* O_WRONLY */).then((fd) => other.close(fd));
    root.close(await opening);
    root.unlink(path);
    for (const fd of [r, w, 1]) root.close(fd);
    await other.exit();
  });
});
