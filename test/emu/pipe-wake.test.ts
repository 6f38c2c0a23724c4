/**
 * Sleeping on a pipe: readers and writers wait exclusively and are woken one
 * at a time (wake_next_reader / wake_next_writer), the last close of an end
 * wakes everyone, signals (AbortSignal) interrupt with EINTR, restart under
 * SA_RESTART, or return a partial count, and poll sleeps until its events hold.
 */

import { describe, expect, it } from 'vitest';
import { POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from '../../host/constants.js';
import { emulatorUsage } from '../../host/emu/index.js';
import { BUILDS, expectErrno, expectRejects, kernel, pending, str, text, turn } from './helpers.js';

const restart = (c: AbortController): void => c.abort({ restart: true });

describe.each(BUILDS)('pipe sleepers (%s build)', (build) => {
  it('a write wakes one sleeping reader; a reader that leaves bytes behind wakes the next', async () => {
    const { root } = await kernel(build);
    const [r, w] = root.pipe();
    const first = root.read(r, 2);
    const second = root.read(r, 2);
    const third = root.read(r, 2);
    await turn();
    root.writeSync(w, text('ab'));
    expect(str(await first)).toBe('ab');
    expect(await pending(second)).toBe(true);
    root.writeSync(w, text('cdef'));
    // second takes "cd" and, the pipe not empty, wakes third
    expect(str(await second)).toBe('cd');
    expect(str(await third)).toBe('ef');
    root.close(r);
    root.close(w);
  });

  it('a blocking write above PIPE_BUF writes what fits, sleeps, and returns only when all is written', async () => {
    const { root } = await kernel(build);
    const [r, w] = root.pipe();
    const data = Uint8Array.from({ length: 100_000 }, (_, i) => i % 251);
    const writing = root.write(w, data);
    expect(await pending(writing)).toBe(true);
    const got: Uint8Array[] = [];
    let total = 0;
    while (total < data.length) {
      const chunk = await root.read(r, 30_000);
      got.push(chunk);
      total += chunk.length;
    }
    expect(await writing).toBe(100_000);
    const all = new Uint8Array(total);
    let at = 0;
    for (const c of got) { all.set(c, at); at += c.length; }
    expect(all).toEqual(data);
    root.close(r);
    root.close(w);
  });

  it('a blocking write of at most PIPE_BUF waits for a whole free slot and goes in at once, never split', async () => {
    const { root } = await kernel(build);
    const [r, w] = root.pipe();
    root.writeSync(w, new Uint8Array(65536));
    const small = root.write(w, text('0123456789'));
    expect(await pending(small)).toBe(true);
    root.readSync(r, 4095);
    expect(await pending(small)).toBe(true); // the first slot still holds a byte
    root.readSync(r, 1);
    expect(await small).toBe(10);
    root.close(r);
    root.close(w);
  });

  it('EOF only after the buffered data; the last writer\'s close wakes sleeping readers with 0', async () => {
    const { root } = await kernel(build);
    const [r, w] = root.pipe();
    const a = root.read(r, 8);
    const b = root.read(r, 8);
    await turn();
    root.close(w);
    expect((await a).length).toBe(0);
    expect((await b).length).toBe(0);
    const [r2, w2] = root.pipe();
    root.writeSync(w2, text('left'));
    root.close(w2);
    expect(str(root.readSync(r2, 2))).toBe('le');
    expect(str(root.readSync(r2, 9))).toBe('ft');
    expect(root.readSync(r2, 9).length).toBe(0);
    root.close(r);
    root.close(r2);
  });

  it('the last reader\'s close: a sleeping writer returns what it wrote, or EPIPE if nothing; later writes are EPIPE, zero-length ones 0', async () => {
    const { root } = await kernel(build);
    const [r, w] = root.pipe();
    const big = root.write(w, new Uint8Array(70_000));
    const [r2, w2] = root.pipe();
    root.writeSync(w2, new Uint8Array(65536));
    const none = root.write(w2, text('x'));
    await turn();
    root.close(r);
    root.close(r2);
    expect(await big).toBe(65536);
    await expectRejects(none, 'EPIPE');
    expectErrno(() => root.writeSync(w, text('y')), 'EPIPE');
    expect(root.writeSync(w, new Uint8Array(0))).toBe(0);
    root.close(w);
    root.close(w2);
  });

  it('a signal ends a sleeping read with EINTR; with SA_RESTART it sleeps on (at the back of the line) and gets later data', async () => {
    const { root } = await kernel(build);
    const [r, w] = root.pipe();
    const c1 = new AbortController();
    const plain = root.read(r, 4, { signal: c1.signal });
    await turn();
    const reason = new Error('sig');
    c1.abort(reason);
    const error = await expectRejects(plain, 'EINTR');
    expect(error.cause).toBe(reason);
    const c2 = new AbortController();
    const restarted = root.read(r, 4, { signal: c2.signal });
    const other = root.read(r, 4);
    await turn();
    restart(c2);
    expect(await pending(restarted)).toBe(true);
    root.writeSync(w, text('one'));
    expect(str(await other)).toBe('one'); // the restarted read went to the back
    root.writeSync(w, text('two'));
    expect(str(await restarted)).toBe('two');
    root.close(r);
    root.close(w);
  });

  it('a signal returns a blocked write\'s partial count, with or without SA_RESTART; one that moved nothing is EINTR or restarts', async () => {
    const { k, root } = await kernel(build);
    const [r, w] = root.pipe();
    const c1 = new AbortController();
    const partial = root.write(w, new Uint8Array(70_000), { signal: c1.signal });
    await turn();
    restart(c1);
    expect(await partial).toBe(65536);
    const c2 = new AbortController();
    const nothing = root.write(w, text('z'), { signal: c2.signal });
    await turn();
    restart(c2);
    expect(await pending(nothing)).toBe(true);
    root.readSync(r, 4096);
    expect(await nothing).toBe(1);
    const c3 = new AbortController();
    root.writeSync(w, new Uint8Array(4095)); // the freed slot again
    const eintr = root.write(w, text('q'), { signal: c3.signal });
    await turn();
    c3.abort();
    await expectRejects(eintr, 'EINTR');
    expect(root.ioctl(r, 0x541b)).toBe(65536);
    root.close(r);
    root.close(w);
    expect(emulatorUsage(k).sleeping).toBe(0);
  });

  it('a timeout ends a sleeping call like a signal without SA_RESTART, but EAGAIN: a write that moved bytes returns their count', async () => {
    const { root } = await kernel(build);
    const [r, w] = root.pipe();
    expect(await root.write(w, new Uint8Array(70_000), { timeout: 5 })).toBe(65536);
    await expectRejects(root.write(w, text('x'), { timeout: 5 }), 'EAGAIN');
    const [r2, w2] = root.pipe();
    await expectRejects(root.read(r2, 4, { timeout: 5 }), 'EAGAIN');
    for (const fd of [r, w, r2, w2]) root.close(fd);
  });

  it('sleeping writers are woken one at a time: a read that frees one slot lets the first writer in, and it wakes the next only if room is left', async () => {
    const { root } = await kernel(build);
    const [r, w] = root.pipe();
    root.writeSync(w, new Uint8Array(65536));
    const first = root.write(w, text('1'));
    const second = root.write(w, text('2'));
    await turn();
    root.readSync(r, 4096); // one slot: the first writer takes it, the pipe is full again
    expect(await first).toBe(1);
    expect(await pending(second)).toBe(true);
    root.readSync(r, 8192); // two more slots: the second goes in
    expect(await second).toBe(1);
    const rest = root.readSync(r, 65536);
    expect(str(rest.subarray(rest.length - 2))).toBe('12');
    root.close(r);
    root.close(w);
  });

  it('a restarted call is made again from the start: its descriptor looked up again (EBADF once closed, another file once reused), O_NONBLOCK read again', async () => {
    const { root } = await kernel(build);
    const [r, w] = root.pipe();
    const c1 = new AbortController();
    const closed = root.read(r, 8, { signal: c1.signal });
    await turn();
    root.close(r); // another thread's close: the sleeping read goes on
    expect(await pending(closed)).toBe(true);
    c1.abort({ restart: true });
    await expectRejects(closed, 'EBADF');
    // the number reused by a socket: the restarted read(2) reads the socket
    const [r2, w2] = root.pipe();
    const c2 = new AbortController();
    const reused = root.read(r2, 8, { signal: c2.signal });
    await turn();
    root.close(r2);
    const [x, y] = root.socketpair(1, 1);
    expect(x).toBe(r2);
    await root.send(y, text('via socket'));
    c2.abort({ restart: true });
    expect(str(await reused)).toBe('via sock');
    // a writer asleep when O_NONBLOCK is set: a signal makes it answer EAGAIN (the O_NONBLOCK test comes first)
    const [r3, w3] = root.pipe();
    root.writeSync(w3, new Uint8Array(65536));
    const c3 = new AbortController();
    const blocked = root.write(w3, text('z'), { signal: c3.signal });
    await turn();
    root.fcntl(w3, 4, 0o4000); // F_SETFL O_NONBLOCK
    root.fcntl(w3, 1031, 65536); // F_SETPIPE_SZ to the same size wakes it, and it sleeps on: the pipe is still full
    expect(await pending(blocked)).toBe(true);
    c3.abort();
    await expectRejects(blocked, 'EAGAIN');
    for (const fd of [w, w2, x, y, r3, w3]) root.close(fd);
  });

  it('exit abandons a sleeping read: the next write goes to the reader behind it', async () => {
    const { root } = await kernel(build);
    const [r, w] = root.pipe();
    const child = root.fork();
    const lost = child.read(r, 8);
    const kept = root.read(r, 8);
    await turn();
    await child.exit();
    root.writeSync(w, text('data'));
    expect(str(await kept)).toBe('data');
    expect(await pending(lost)).toBe(true);
    root.close(r);
    root.close(w);
  });

  it('poll reports pipe_poll\'s mask and sleeps until the asked events hold; its timeout answers 0; a signal is EINTR even under SA_RESTART', async () => {
    const { root } = await kernel(build);
    const [r, w] = root.pipe();
    expect(await root.poll(r, POLLIN, 0)).toBe(0);
    expect(await root.poll(w, POLLOUT, 0)).toBe(POLLOUT);
    expect(await root.poll(w, POLLOUT | POLLWRNORM | POLLIN, 0)).toBe(POLLOUT | POLLWRNORM);
    const waiting = root.poll(r, POLLIN | POLLRDNORM, -1);
    expect(await pending(waiting)).toBe(true);
    root.writeSync(w, text('x'));
    expect(await waiting).toBe(POLLIN | POLLRDNORM);
    root.readSync(r, 1);
    expect(await root.poll(r, POLLIN, 5)).toBe(0);
    const c = new AbortController();
    const interrupted = root.poll(r, POLLIN, -1, { signal: c.signal });
    await turn();
    restart(c);
    await expectRejects(interrupted, 'EINTR');
    const hup = root.poll(r, POLLIN, -1);
    await turn();
    root.close(w);
    expect(await hup).toBe(POLLHUP); // asked or not
    const [r2, w2] = root.pipe();
    root.close(r2);
    expect(await root.poll(w2, POLLOUT, 0)).toBe(POLLOUT | POLLERR);
    expect(await root.poll(r2, POLLIN, 0)).toBe(0x20); // POLLNVAL
    expect(await root.poll(-1, POLLIN, 0)).toBe(0);
    root.close(r);
    root.close(w2);
  });
});
