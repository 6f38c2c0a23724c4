/**
 * Named AF_UNIX sockets on the emulator: socket, bind, listen, connect,
 * accept (net/unix/af_unix.c), each answer checked first on Linux 6.18
 * with Python's socket module (and C with sigaction for SA_RESTART).
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Emulator, SimProcess } from '../../host/api.js';
import {
  AF_UNIX, F_GETFD, F_GETFL, F_SETFL, FIONREAD, O_NONBLOCK, O_RDONLY, O_RDWR, POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM,
  POLLWRNORM, SHUT_RD, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_SEQPACKET, SOCK_STREAM,
} from '../../host/constants.js';
import { emulatorUsage } from '../../host/emu/index.js';
import { BUILDS, expectErrno, expectRejects, kernel, pending, str, text, turn } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ipcemu-sock-test.'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const POLLWRBAND = 0x200;
const SOL_SOCKET_OPT = 7; // SO_SNDBUF
const MSG_DONTWAIT_FLAG = 0x40;
const POLLRDHUP = 0x2000;
const ALL = 0xffff;

/** Nothing asleep, nothing pending, every byte the sockets and names took given back. */
function clean(k: Emulator, before: number): void {
  const usage = emulatorUsage(k);
  expect(usage.sleeping).toBe(0);
  expect(usage.pending).toBe(0);
  expect(usage.bytes).toBe(before);
}

/**
 * The byte count to come back to: taken after a sleeping call has grown the
 * core's token and completion tables, 16 sockets the process's descriptor
 * table, and a pipe the user's pipe accounting, which stay.
 */
async function baseline(k: Emulator, p: SimProcess): Promise<number> {
  const l = listener(p, '/warm-up');
  const a = new AbortController();
  const acc = p.accept(l, 0, { signal: a.signal });
  a.abort();
  await expectRejects(acc, 'EINTR');
  p.close(l);
  p.unlink('/warm-up');
  const fds = [...Array.from({ length: 16 }, () => p.socket(AF_UNIX, SOCK_STREAM)), ...p.pipe()];
  for (const fd of fds) p.close(fd);
  return emulatorUsage(k).bytes;
}

/** A stream (or `type`) socket listening at `path`. */
function listener(p: SimProcess, path: string, backlog = 5, type = SOCK_STREAM): number {
  const l = p.socket(AF_UNIX, type);
  p.bind(l, path);
  p.listen(l, backlog);
  return l;
}

describe.each(BUILDS)('named AF_UNIX sockets (%s build)', (build) => {
  it('bind makes a socket file (0777 less the umask); EADDRINUSE, EINVAL when bound; unlink removes the name', async () => {
    const { k, root } = await kernel(build);
    const before = await baseline(k, root);
    const s = root.socket(AF_UNIX, SOCK_STREAM);
    expect(root.fcntl(s, F_GETFL)).toBe(O_RDWR);
    root.bind(s, '/a');
    expect(root.stat('/a')).toEqual({ type: 'socket', mode: 0o755 });
    expectErrno(() => root.bind(s, '/b'), 'EINVAL');
    expectErrno(() => root.stat('/b'), 'ENOENT'); // the name a bound socket made is taken back
    expectErrno(() => root.bind(s, '/a'), 'EADDRINUSE');
    const t = root.socket(AF_UNIX, SOCK_DGRAM);
    expectErrno(() => root.bind(t, '/a'), 'EADDRINUSE');
    root.mkfifo('/f');
    expectErrno(() => root.bind(t, '/f'), 'EADDRINUSE');
    expectErrno(() => root.bind(t, '/'), 'EADDRINUSE');
    expectErrno(() => root.bind(t, dir), 'EADDRINUSE'); // a directory of the host's
    expectErrno(() => root.mkfifo(dir), 'EEXIST');
    await expectRejects(root.connect(t, dir), 'ECONNREFUSED');
    const t2 = root.socket(AF_UNIX, SOCK_DGRAM);
    root.bind(t2, join(dir, 's')); // a name in a real directory
    expect(root.stat(join(dir, 's'))).toEqual({ type: 'socket', mode: 0o755 });
    expectErrno(() => root.bind(t2, join(dir, 'missing', 's')), 'ENOENT');
    root.unlink(join(dir, 's'));
    root.close(t2);
    expectErrno(() => root.mkfifo('/a'), 'EEXIST');
    await expectRejects(root.open('/a', O_RDONLY), 'ENXIO');
    expectErrno(() => root.bind(t, '/a/x'), 'ENOTDIR');
    expectErrno(() => root.bind(t, '/' + 'x'.repeat(108)), 'EINVAL');
    expect(() => root.bind(t, 'x\0y')).toThrow(TypeError); // a NUL within a path
    expectErrno(() => root.bind(99, '/c'), 'EBADF');
    const r = await root.open('/f', O_RDWR);
    expectErrno(() => root.bind(r, '/c'), 'ENOTSOCK');
    root.unlink('/a');
    expectErrno(() => root.stat('/a'), 'ENOENT');
    root.bind(t, '/a'); // the name is free again; the first socket stays bound to nothing reachable
    for (const fd of [s, t, r]) root.close(fd);
    root.unlink('/a');
    root.unlink('/f');
    clean(k, before);
  });

  it('abstract names: autobind hands out \\0 and five hex digits in order from 00001; names of each type apart; every byte given back', async () => {
    const { k, root } = await kernel(build);
    const before = await baseline(k, root);
    const a = root.socket(AF_UNIX, SOCK_STREAM);
    root.bind(a, '');
    expect(root.getsockname(a)).toBe('\x0000001');
    const b = root.socket(AF_UNIX, SOCK_STREAM);
    root.bind(b, '\x0000002'); // taken by hand: autobind passes over it
    const c = root.socket(AF_UNIX, SOCK_DGRAM);
    root.bind(c, '');
    expect(root.getsockname(c)).toBe('\x0000002'); // 00002 is free among datagram sockets
    const d = root.socket(AF_UNIX, SOCK_STREAM);
    root.bind(d, '');
    expect(root.getsockname(d)).toBe('\x0000003');
    root.listen(b, 1);
    const child = root.fork();
    const e = child.socket(AF_UNIX, SOCK_STREAM);
    await child.connect(e, '\x0000002');
    const s = await root.accept(b);
    expect(root.getsockname(s)).toBe('\x0000002');
    await child.exit(); // closes the client
    root.close(b);
    const f = root.socket(AF_UNIX, SOCK_STREAM);
    root.bind(f, '\x0000002'); // free again while the accepted socket still carries it
    expect(root.getsockname(s)).toBe('\x0000002');
    for (const fd of [a, c, d, s, f]) root.close(fd);
    clean(k, before);
  });

  it('datagram sockets connected to a full receiver: sends asleep on its queue end every way (a receive, a signal, SA_RESTART, its close, an exit) and nothing is left behind', async () => {
    const { k, root } = await kernel(build);
    const before = await baseline(k, root);
    const r = root.socket(AF_UNIX, SOCK_DGRAM);
    root.bind(r, '/r');
    const x = root.socket(AF_UNIX, SOCK_DGRAM);
    await root.connect(x, '/r');
    for (let i = 0; i < 11; i++) await root.send(x, text(`m${i}`));
    // a signal: EINTR; under SA_RESTART it sleeps on and a receive lets it in
    const a = new AbortController();
    const interrupted = root.send(x, text('intr'), 0, { signal: a.signal });
    a.abort();
    await expectRejects(interrupted, 'EINTR');
    const b = new AbortController();
    const restarted = root.send(x, text('restarted'), 0, { signal: b.signal });
    b.abort({ restart: true });
    expect(await pending(restarted)).toBe(true);
    expect(str((await root.recv(r, 16)).data)).toBe('m0');
    expect(await restarted).toBe(9);
    // a forked child's send asleep when it exits; a poller's relay on the receiver
    const child = root.fork();
    const abandoned = child.send(x, text('abandoned'));
    const polling = root.poll(x, POLLOUT, -1);
    expect(await pending(abandoned)).toBe(true);
    expect(await pending(polling)).toBe(true);
    await child.exit();
    // the receiver's close wakes the sleeping send (ECONNREFUSED) and the poller (POLLOUT: the peer is dead)
    const last = root.send(x, text('last'));
    expect(await pending(last)).toBe(true);
    root.close(r);
    await expectRejects(last, 'ECONNREFUSED');
    expect(await polling).toBe(POLLOUT);
    await expectRejects(root.send(x, text('x')), 'ENOTCONN');
    root.unlink('/r');
    root.close(x);
    clean(k, before);
  });

  it('sendto and recvfrom asleep: a sendto waiting for room in its own buffer looks its name up once it has room, one waiting on a full receiver keeps that receiver; each ends every way and nothing is left behind', async () => {
    const { k, root } = await kernel(build);
    const before = await baseline(k, root);
    const r = root.socket(AF_UNIX, SOCK_DGRAM);
    root.bind(r, '/r');
    const u = root.socket(AF_UNIX, SOCK_DGRAM);
    for (let i = 0; i < 11; i++) await root.sendto(u, text(`m${i}`), '/r');
    // waits on the receiver: interrupted, restarted, then let in by a receive
    const a = new AbortController();
    const interrupted = root.sendto(u, text('intr'), '/r', 0, { signal: a.signal });
    a.abort();
    await expectRejects(interrupted, 'EINTR');
    const b = new AbortController();
    const restarted = root.sendto(u, text('restarted'), '/r', 0, { signal: b.signal });
    b.abort({ restart: true });
    expect(await pending(restarted)).toBe(true);
    expect(await root.recvfrom(r, 16)).toEqual({ data: text('m0'), length: 2, from: '' });
    expect(await restarted).toBe(9);
    // waits for room in its own send buffer (SO_SNDBUF at its floor), then the name is looked up: gone meanwhile
    const small = root.socket(AF_UNIX, SOCK_DGRAM);
    root.bind(small, '/small');
    root.setsockopt(small, SOL_SOCKET_OPT, 0); // the floor
    const q = root.socket(AF_UNIX, SOCK_DGRAM);
    root.bind(q, '/q');
    let sent = 0;
    while (await root.sendto(small, new Uint8Array(1000), '/q', MSG_DONTWAIT_FLAG).then(() => true, () => false)) sent++;
    expect(sent).toBeGreaterThan(0);
    const waiting = root.sendto(small, text('after room'), '/q');
    expect(await pending(waiting)).toBe(true);
    const child = root.fork();
    const abandoned = child.sendto(small, text('abandoned'), '/q');
    expect(await pending(abandoned)).toBe(true);
    await child.exit();
    root.close(q); // frees the buffers it waited behind; its lookup then finds the file with no socket
    await expectRejects(waiting, 'ECONNREFUSED');
    root.unlink('/q');
    // a recvfrom asleep names its sender when it completes
    const listening = root.recvfrom(r, 16);
    expect(await listening).toEqual({ data: text('m1'), length: 2, from: '' });
    const w = root.socket(AF_UNIX, SOCK_DGRAM);
    root.bind(w, '/w');
    const sleeping = root.recvfrom(w, 16);
    expect(await pending(sleeping)).toBe(true);
    await root.sendto(small, text('named'), '/w');
    expect(await sleeping).toEqual({ data: text('named'), length: 5, from: '/small' });
    for (const fd of [r, u, small, w]) root.close(fd);
    for (const name of ['/r', '/small', '/w']) root.unlink(name);
    clean(k, before);
  });

  it('socket: the family, type and protocol checks; SOCK_NONBLOCK and SOCK_CLOEXEC', async () => {
    const { k, root } = await kernel(build);
    const before = await baseline(k, root);
    expectErrno(() => root.socket(AF_UNIX, SOCK_STREAM | 0x100), 'EINVAL');
    expectErrno(() => root.socket(46, SOCK_STREAM), 'EAFNOSUPPORT');
    expectErrno(() => root.socket(AF_UNIX, 10), 'EINVAL');
    expectErrno(() => root.socket(AF_UNIX, SOCK_STREAM, 6), 'EPROTONOSUPPORT');
    expectErrno(() => root.socket(AF_UNIX, 4), 'ESOCKTNOSUPPORT');
    const s = root.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC);
    expect(root.fcntl(s, F_GETFL)).toBe(O_RDWR | O_NONBLOCK);
    expect(root.fcntl(s, F_GETFD)).toBe(1);
    root.close(s);
    clean(k, before);
  });

  it('an unconnected socket: recv EINVAL (stream) / ENOTCONN, send ENOTCONN, poll POLLOUT|POLLHUP (dgram: no HUP)', async () => {
    const { k, root } = await kernel(build);
    const before = await baseline(k, root);
    const s = root.socket(AF_UNIX, SOCK_STREAM);
    const q = root.socket(AF_UNIX, SOCK_SEQPACKET);
    const d = root.socket(AF_UNIX, SOCK_DGRAM);
    await expectRejects(root.recv(s, 1), 'EINVAL');
    await expectRejects(root.send(s, text('a')), 'ENOTCONN');
    await expectRejects(root.recv(q, 1), 'ENOTCONN');
    const out = POLLOUT | POLLWRNORM | POLLWRBAND;
    expect(await root.poll(s, ALL, 0)).toBe(out | POLLHUP);
    expect(await root.poll(q, ALL, 0)).toBe(out | POLLHUP);
    expect(await root.poll(d, ALL, 0)).toBe(out);
    for (const fd of [s, q, d]) root.close(fd);
    clean(k, before);
  });

  it('listen: EOPNOTSUPP for dgram, EINVAL unbound or connected; a second listen changes the backlog', async () => {
    const { k, root } = await kernel(build);
    const before = await baseline(k, root);
    const d = root.socket(AF_UNIX, SOCK_DGRAM);
    root.bind(d, '/d');
    expectErrno(() => root.listen(d, 1), 'EOPNOTSUPP');
    const u = root.socket(AF_UNIX, SOCK_STREAM);
    expectErrno(() => root.listen(u, 1), 'EINVAL');
    const [a, b] = root.socketpair(AF_UNIX, SOCK_STREAM);
    root.bind(a, '/pair'); // a pair's socket has no name yet: bind works
    expectErrno(() => root.listen(a, 1), 'EINVAL');
    const l = listener(root, '/l', 0);
    root.listen(l, 0);
    expect(await root.poll(l, ALL, 0)).toBe(0);
    expectErrno(() => root.ioctl(l, FIONREAD), 'EINVAL');
    await expectRejects(root.recv(l, 1), 'EINVAL');
    for (const fd of [d, u, a, b, l]) root.close(fd);
    for (const n of ['/d', '/pair', '/l']) root.unlink(n);
    clean(k, before);
  });

  it('connect: ENOENT, ECONNREFUSED (no socket, not listening, closed, shut), EPROTOTYPE, EISCONN, EINVAL on a listener', async () => {
    const { k, root } = await kernel(build);
    const before = await baseline(k, root);
    const c = root.socket(AF_UNIX, SOCK_STREAM);
    await expectRejects(root.connect(c, '/none'), 'ENOENT');
    await expectRejects(root.connect(c, ''), 'EINVAL');
    root.mkfifo('/f');
    await expectRejects(root.connect(c, '/f'), 'ECONNREFUSED');
    await expectRejects(root.connect(c, '/f/'), 'ENOTDIR');
    const b = root.socket(AF_UNIX, SOCK_STREAM);
    root.bind(b, '/b');
    await expectRejects(root.connect(c, '/b'), 'ECONNREFUSED');
    const q = listener(root, '/q', 5, SOCK_SEQPACKET);
    await expectRejects(root.connect(c, '/q'), 'EPROTOTYPE');
    const d = root.socket(AF_UNIX, SOCK_DGRAM);
    root.bind(d, '/d');
    await expectRejects(root.connect(c, '/d'), 'EPROTOTYPE');
    const l = listener(root, '/l');
    await root.connect(c, '/l');
    await expectRejects(root.connect(c, '/l'), 'EISCONN');
    await expectRejects(root.connect(c, '/none'), 'ENOENT'); // the path is looked up before the socket's state
    await expectRejects(root.connect(l, '/l'), 'EINVAL');
    const [p1, p2] = root.socketpair(AF_UNIX, SOCK_STREAM);
    await expectRejects(root.connect(p1, '/l'), 'EISCONN');
    const s = listener(root, '/s');
    root.shutdown(s, SHUT_RD);
    const x = root.socket(AF_UNIX, SOCK_STREAM);
    await expectRejects(root.connect(x, '/s'), 'ECONNREFUSED');
    expect(await root.poll(s, ALL, 0)).toBe(POLLIN | POLLRDNORM | POLLRDHUP);
    root.close(b);
    await expectRejects(root.connect(p1, '/b'), 'ECONNREFUSED'); // the name outlives its socket
    for (const fd of [c, q, d, l, p1, p2, s, x]) root.close(fd);
    for (const n of ['/f', '/b', '/q', '/d', '/l', '/s']) root.unlink(n);
    clean(k, before);
  });

  it('a connection: the client may send before the accept; the accepted socket is a connected stream end', async () => {
    const { k, root } = await kernel(build);
    const before = await baseline(k, root);
    const l = listener(root, '/l');
    const c = root.socket(AF_UNIX, SOCK_STREAM);
    await root.connect(c, '/l');
    expect(await root.poll(l, ALL, 0)).toBe(POLLIN | POLLRDNORM);
    expect(await root.poll(c, ALL, 0)).toBe(POLLOUT | POLLWRNORM | POLLWRBAND);
    expect(await root.send(c, text('hello'))).toBe(5);
    const s = await root.accept(l, SOCK_NONBLOCK | SOCK_CLOEXEC);
    expect(root.fcntl(s, F_GETFL)).toBe(O_RDWR | O_NONBLOCK);
    expect(root.fcntl(s, F_GETFD)).toBe(1);
    expect(await root.poll(l, ALL, 0)).toBe(0);
    expect(root.ioctl(s, FIONREAD)).toBe(5);
    expect([root.getsockname(s), root.getpeername(c)]).toEqual(['/l', '/l']); // the listener's name, shared
    expect(str((await root.recv(s, 10)).data)).toBe('hello');
    await root.write(s, text('back'));
    expect(str(await root.read(c, 10))).toBe('back');
    root.close(c);
    expect((await root.recv(s, 10)).length).toBe(0);
    await expectRejects(root.send(s, text('x')), 'EPIPE');
    // the socket stays usable after its name is gone; the name no longer leads to it
    root.unlink('/l');
    const x = root.socket(AF_UNIX, SOCK_STREAM);
    await expectRejects(root.connect(x, '/l'), 'ENOENT');
    root.fcntl(l, F_SETFL, O_NONBLOCK);
    await expectRejects(root.accept(l), 'EAGAIN');
    for (const fd of [l, s, x]) root.close(fd);
    clean(k, before);
  });

  it('the queue: backlog 0 lets one in, then EAGAIN (O_NONBLOCK); a larger backlog and an accept make room', async () => {
    const { k, root } = await kernel(build);
    const before = await baseline(k, root);
    const l = listener(root, '/l', 0);
    const c = [0, 1, 2, 3].map(() => root.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK));
    await root.connect(c[0]!, '/l');
    await expectRejects(root.connect(c[1]!, '/l'), 'EAGAIN');
    await expectRejects(root.connect(c[0]!, '/l'), 'EAGAIN'); // the queue is checked before EISCONN
    root.listen(l, 1);
    await root.connect(c[1]!, '/l');
    await expectRejects(root.connect(c[2]!, '/l'), 'EAGAIN');
    const s = await root.accept(l);
    await root.connect(c[2]!, '/l');
    expect(root.fcntl(s, F_GETFL)).toBe(O_RDWR);
    for (const fd of [...c, l, s]) root.close(fd);
    root.unlink('/l');
    clean(k, before);
  });

  it('sleepers: accept waits for a connection; connect waits for room and an accept lets one in', async () => {
    const { k, root } = await kernel(build);
    const before = await baseline(k, root);
    const l = listener(root, '/l', 0);
    const poll = root.poll(l, POLLIN, -1);
    expect(await pending(poll)).toBe(true);
    const acc = root.accept(l);
    expect(await pending(acc)).toBe(true);
    const c1 = root.socket(AF_UNIX, SOCK_STREAM);
    await root.connect(c1, '/l');
    expect(await poll).toBe(POLLIN); // the poller slept first: it sees the connection before the accept takes it
    const s1 = await acc;
    const c2 = root.socket(AF_UNIX, SOCK_STREAM);
    const c3 = root.socket(AF_UNIX, SOCK_STREAM);
    const c4 = root.socket(AF_UNIX, SOCK_STREAM);
    await root.connect(c2, '/l');
    const w3 = root.connect(c3, '/l');
    const w4 = root.connect(c4, '/l');
    expect(await pending(w3)).toBe(true);
    expect(await pending(w4)).toBe(true);
    const s2 = await root.accept(l); // wakes one connect: the first
    await w3;
    expect(await pending(w4)).toBe(true);
    const s3 = await root.accept(l);
    await w4;
    const s4 = await root.accept(l);
    await root.send(c4, text('4'));
    expect(str(await root.read(s4, 1))).toBe('4');
    for (const fd of [l, c1, c2, c3, c4, s1, s2, s3, s4]) root.close(fd);
    root.unlink('/l');
    clean(k, before);
  });

  it('closing a listener: queued clients see ECONNRESET, then EOF and EPIPE; waiting connects are refused', async () => {
    const { k, root } = await kernel(build);
    const before = await baseline(k, root);
    const l = listener(root, '/l', 0);
    const c1 = root.socket(AF_UNIX, SOCK_STREAM);
    const c2 = root.socket(AF_UNIX, SOCK_STREAM);
    await root.connect(c1, '/l');
    const w2 = root.connect(c2, '/l');
    expect(await pending(w2)).toBe(true);
    await root.send(c1, text('x'));
    root.close(l);
    await expectRejects(w2, 'ECONNREFUSED');
    expect(await root.poll(c1, ALL, 0)).toBe(POLLIN | POLLRDNORM | POLLRDHUP | POLLERR | POLLHUP | POLLOUT | POLLWRNORM | POLLWRBAND);
    await expectRejects(root.recv(c1, 5), 'ECONNRESET');
    expect((await root.recv(c1, 5)).length).toBe(0);
    await expectRejects(root.send(c1, text('z')), 'EPIPE');
    await expectRejects(root.connect(c2, '/l'), 'ECONNREFUSED');
    expect(root.stat('/l')).toEqual({ type: 'socket', mode: 0o755 });
    root.close(c1);
    root.close(c2);
    root.unlink('/l');
    clean(k, before);
  });

  it('a blocking accept on a listener shut for reading is EINVAL; O_NONBLOCK is EAGAIN; a sleeping one wakes with EINVAL', async () => {
    const { k, root } = await kernel(build);
    const before = await baseline(k, root);
    const l = listener(root, '/l');
    const acc = root.accept(l);
    expect(await pending(acc)).toBe(true);
    root.shutdown(l, SHUT_RD);
    await expectRejects(acc, 'EINVAL');
    await expectRejects(root.accept(l), 'EINVAL');
    root.fcntl(l, F_SETFL, O_NONBLOCK);
    await expectRejects(root.accept(l), 'EAGAIN');
    const d = root.socket(AF_UNIX, SOCK_DGRAM);
    await expectRejects(root.accept(d), 'EOPNOTSUPP');
    const u = root.socket(AF_UNIX, SOCK_STREAM);
    await expectRejects(root.accept(u), 'EINVAL');
    await expectRejects(root.accept(l, 0x100), 'EINVAL');
    for (const fd of [l, d, u]) root.close(fd);
    root.unlink('/l');
    clean(k, before);
  });

  it('signals: accept and connect fail with EINTR; under SA_RESTART both go on sleeping and complete', async () => {
    const { k, root } = await kernel(build);
    const before = await baseline(k, root);
    const l = listener(root, '/l', 0);
    const a1 = new AbortController();
    const acc = root.accept(l, 0, { signal: a1.signal });
    a1.abort();
    await expectRejects(acc, 'EINTR');
    const a2 = new AbortController();
    const acc2 = root.accept(l, 0, { signal: a2.signal });
    a2.abort({ restart: true });
    expect(await pending(acc2)).toBe(true);
    const c1 = root.socket(AF_UNIX, SOCK_STREAM);
    await root.connect(c1, '/l');
    const s1 = await acc2;
    const c2 = root.socket(AF_UNIX, SOCK_STREAM);
    await root.connect(c2, '/l');
    const c3 = root.socket(AF_UNIX, SOCK_STREAM);
    const a3 = new AbortController();
    const w3 = root.connect(c3, '/l', { signal: a3.signal });
    a3.abort();
    await expectRejects(w3, 'EINTR');
    const a4 = new AbortController();
    const w4 = root.connect(c3, '/l', { signal: a4.signal });
    a4.abort({ restart: true });
    expect(await pending(w4)).toBe(true);
    const s2 = await root.accept(l);
    await w4;
    const s3 = await root.accept(l);
    await turn();
    for (const fd of [l, c1, c2, c3, s1, s2, s3]) root.close(fd);
    root.unlink('/l');
    clean(k, before);
  });

  it('exit abandons a sleeping accept and connect; fork shares a listener', async () => {
    const { k, root } = await kernel(build);
    const before = await baseline(k, root);
    const l = listener(root, '/l', 0);
    const child = root.fork();
    const acc = child.accept(l);
    expect(await pending(acc)).toBe(true);
    await child.exit();
    const c1 = root.socket(AF_UNIX, SOCK_STREAM);
    await root.connect(c1, '/l');
    const other = root.fork();
    const c2 = other.socket(AF_UNIX, SOCK_STREAM);
    const w = other.connect(c2, '/l');
    expect(await pending(w)).toBe(true);
    await other.exit();
    const s = await root.accept(l);
    for (const fd of [l, c1, s]) root.close(fd);
    root.unlink('/l');
    clean(k, before);
  });
});
