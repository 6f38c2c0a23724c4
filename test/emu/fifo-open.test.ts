/**
 * FIFOs on the emulator: the namespace (mkfifo, stat, unlink, paths), the
 * open rendezvous of fifo_open / wait_for_partner, and what a FIFO keeps.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  F_GETFL, FIONREAD, O_CREAT, O_EXCL, O_LARGEFILE, O_NONBLOCK, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, POLLHUP, POLLIN,
} from '../../host/constants.js';
import { emulatorUsage } from '../../host/emu/index.js';
import { BUILDS, expectErrno, expectRejects, kernel, pending, str, text, turn, user } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ipcemu-fifo-test.'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(BUILDS)('FIFOs (%s build)', (build) => {
  it('mkfifo applies the umask, stat says fifo, EEXIST for a second mkfifo, unlink removes the name', async () => {
    const { root } = await kernel(build);
    root.mkfifo('a', 0o666);
    expect(root.stat('a')).toEqual({ type: 'fifo', mode: 0o644 });
    expect(root.stat('/a')).toEqual({ type: 'fifo', mode: 0o644 }); // the working directory is "/"
    expect(root.stat('./x/../a')).toEqual({ type: 'fifo', mode: 0o644 });
    expectErrno(() => root.mkfifo('a', 0o600), 'EEXIST');
    expectErrno(() => root.stat('a/'), 'ENOTDIR');
    expectErrno(() => root.mkfifo('a/b', 0o600), 'ENOTDIR');
    expectErrno(() => root.mkfifo('', 0o600), 'ENOENT');
    expectErrno(() => root.mkfifo('x'.repeat(256), 0o600), 'ENAMETOOLONG');
    expect(() => root.mkfifo('a\0b', 0o600)).toThrow(TypeError);
    root.unlink('a');
    expectErrno(() => root.stat('a'), 'ENOENT');
    expectErrno(() => root.unlink('a'), 'ENOENT');
    expect(root.stat('/')).toEqual({ type: 'dir', mode: expect.any(Number) });
  });

  it('directories are the host\'s: a FIFO in a real directory works, one in a missing directory is ENOENT, under a file ENOTDIR', async () => {
    const { root } = await kernel(build);
    const path = join(dir, 'f');
    root.mkfifo(path, 0o600);
    expect(root.stat(path)).toEqual({ type: 'fifo', mode: 0o600 });
    expect(root.stat(dir).type).toBe('dir');
    expectErrno(() => root.mkfifo(join(dir, 'missing', 'f'), 0o600), 'ENOENT');
    writeFileSync(join(dir, 'plain'), '');
    expectErrno(() => root.mkfifo(join(dir, 'plain', 'f'), 0o600), 'ENOTDIR');
    await expectRejects(root.open(join(dir, 'missing', 'f'), O_RDONLY | O_NONBLOCK), 'ENOENT');
    root.unlink(path);
  });

  it('blocking opens wait for the partner; O_RDONLY|O_NONBLOCK opens at once; O_WRONLY|O_NONBLOCK without a reader is ENXIO; O_RDWR never waits', async () => {
    const { k, root } = await kernel(build);
    root.mkfifo('f', 0o666);
    await expectRejects(root.open('f', O_WRONLY | O_NONBLOCK), 'ENXIO');
    const reader = root.open('f', O_RDONLY);
    expect(await pending(reader)).toBe(true);
    const writer = await root.open('f', O_WRONLY);
    const rfd = await reader;
    expect(root.fcntl(rfd, F_GETFL)).toBe(O_RDONLY | O_LARGEFILE);
    expect(root.fcntl(writer, F_GETFL)).toBe(O_WRONLY | O_LARGEFILE);
    root.writeSync(writer, text('hello'));
    expect(str(root.readSync(rfd, 16))).toBe('hello');
    const both = await root.open('f', O_RDWR | O_TRUNC | O_CREAT);
    expect(root.fcntl(both, F_GETFL)).toBe(O_RDWR | O_LARGEFILE);
    await expectRejects(root.open('f', O_RDWR | O_CREAT | O_EXCL), 'EEXIST');
    for (const fd of [rfd, writer, both]) root.close(fd);
    root.unlink('f');
    expect(emulatorUsage(k).sleeping).toBe(0);
  });

  it('a sleeping opener is released by the counter, even if the partner closed again; it then reads EOF', async () => {
    const { root } = await kernel(build);
    root.mkfifo('f', 0o666);
    const reader = root.open('f', O_RDONLY);
    await turn();
    const w = await root.open('f', O_WRONLY);
    root.close(w);
    const rfd = await reader;
    expect(root.readSync(rfd, 4).length).toBe(0);
    root.close(rfd);
    root.unlink('f');
  });

  it('a signal ends a blocking open with EINTR (its number is free again), or with SA_RESTART the open waits on', async () => {
    const { root } = await kernel(build);
    root.mkfifo('f', 0o666);
    const c1 = new AbortController();
    const interrupted = root.open('f', O_WRONLY, undefined, { signal: c1.signal });
    await turn();
    c1.abort();
    await expectRejects(interrupted, 'EINTR');
    await expectRejects(root.open('f', O_WRONLY | O_NONBLOCK), 'ENXIO'); // it no longer counts as a writer
    const [r, w] = root.pipe();
    expect(r).toBe(3); // its reserved number came back
    const c2 = new AbortController();
    const restarted = root.open('f', O_RDONLY, undefined, { signal: c2.signal });
    await turn();
    c2.abort({ restart: true });
    expect(await pending(restarted)).toBe(true);
    const wfd = await root.open('f', O_WRONLY);
    const rfd = await restarted;
    for (const fd of [r, w, wfd, rfd]) root.close(fd);
    root.unlink('f');
  });

  it('EACCES by the mode bits for the access asked (O_TRUNC asks for write); an exit abandons a sleeping open', async () => {
    const { k, root } = await kernel(build);
    root.mkfifo('f', 0o644);
    const u = user(k);
    await expectRejects(u.open('f', O_WRONLY | O_NONBLOCK), 'EACCES');
    await expectRejects(u.open('f', O_RDONLY | O_TRUNC), 'EACCES');
    const opening = u.open('f', O_RDONLY);
    expect(await pending(opening)).toBe(true);
    await u.exit();
    await expectRejects(root.open('f', O_WRONLY | O_NONBLOCK), 'ENXIO');
    expect(emulatorUsage(k).sleeping).toBe(0);
    root.unlink('f');
  });

  it('bytes live while a descriptor is open and go with the last close; unlink leaves open descriptors working; POLLHUP only after a writer came', async () => {
    const { root } = await kernel(build);
    root.mkfifo('f', 0o666);
    const r = await root.open('f', O_RDONLY | O_NONBLOCK);
    expect(await root.poll(r, POLLIN, 0)).toBe(0);
    const w = await root.open('f', O_WRONLY);
    root.writeSync(w, text('kept'));
    root.close(w);
    expect(await root.poll(r, POLLIN, 0)).toBe(POLLIN | POLLHUP);
    root.unlink('f');
    expect(root.ioctl(r, FIONREAD)).toBe(4);
    expect(str(root.readSync(r, 8))).toBe('kept');
    root.close(r);
    root.mkfifo('f', 0o666);
    const r2 = await root.open('f', O_RDWR);
    root.writeSync(r2, text('gone'));
    root.close(r2);
    const r3 = await root.open('f', O_RDWR);
    expect(root.ioctl(r3, FIONREAD)).toBe(0);
    root.close(r3);
    root.unlink('f');
  });

  it('open(O_CREAT) makes an in-memory regular file: stat says file with the mode less the umask; reads and writes move f_pos; O_APPEND, O_TRUNC', async () => {
    const { k, root } = await kernel(build);
    await expectRejects(root.open('plain', O_WRONLY), 'ENOENT');
    const w = await root.open('plain', O_CREAT | O_WRONLY, 0o666);
    expect(root.stat('plain')).toEqual({ type: 'file', mode: 0o644 });
    expect(root.writeSync(w, text('hello '))).toBe(6);
    expect(await root.write(w, text('world'))).toBe(5);
    const r = await root.open('plain', O_RDONLY);
    expect(root.ioctl(r, FIONREAD)).toBe(11);
    expect(str(root.readSync(r, 5))).toBe('hello');
    const into = new Uint8Array(20);
    expect(root.readInto(r, into)).toBe(6);
    expect(str(into.subarray(0, 6))).toBe(' world');
    expect(root.readSync(r, 5).length).toBe(0);
    expect(await root.poll(r, POLLIN, 0)).toBe(POLLIN);
    const a = await root.open('plain', O_WRONLY | 0o2000); // O_APPEND
    root.writeSync(a, text('!'));
    expect(str(root.readSync(r, 5))).toBe('!');
    await expectRejects(root.open('plain', O_CREAT | O_EXCL | O_RDWR), 'EEXIST');
    await expectRejects(user(k).open('plain', O_WRONLY), 'EACCES');
    const t = await root.open('plain', O_WRONLY | O_TRUNC);
    expect(root.ioctl(r, FIONREAD)).toBe(0);
    root.unlink('plain');
    root.writeSync(t, text('still open'));
    for (const fd of [w, r, a, t]) root.close(fd);
    expectErrno(() => root.stat('plain'), 'ENOENT');
  });
});
