/**
 * socketpair(AF_UNIX) on the emulator: stream, datagram and seqpacket
 * pairs, the peer-closed rules (checklist 155-161), shutdown, MSG_PEEK /
 * MSG_TRUNC / MSG_WAITALL / MSG_DONTWAIT, SO_SNDBUF, read/write and the
 * descriptor calls on sockets.
 */

import { describe, expect, it } from 'vitest';
import {
  AF_UNIX, F_GETFL, FIONREAD, MSG_DONTWAIT, MSG_PEEK, MSG_TRUNC, MSG_WAITALL, O_NONBLOCK, O_RDWR, POLLHUP, POLLIN,
  POLLOUT, SHUT_RD, SHUT_WR, SO_RCVBUF, SO_SNDBUF, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_SEQPACKET, SOCK_STREAM,
} from '../../host/constants.js';
import { emulatorUsage } from '../../host/emu/index.js';
import { BUILDS, expectErrno, expectRejects, kernel, pending, str, text, thrown, turn } from './helpers.js';

describe.each(BUILDS)('socketpair (%s build)', (build) => {
  it('a stream pair is full duplex and keeps no boundaries; read/write, readInto/writeSync work on it', async () => {
    const { root } = await kernel(build);
    const [a, b] = root.socketpair(AF_UNIX, SOCK_STREAM);
    expect(root.fcntl(a, F_GETFL)).toBe(O_RDWR);
    expect(await root.send(a, text('one'))).toBe(3);
    expect(root.writeSync(a, text('two'))).toBe(3);
    expect(root.ioctl(b, FIONREAD)).toBe(6);
    expect(await root.recv(b, 64)).toEqual({ data: text('onetwo'), length: 6 });
    expect(await root.write(b, text('back'))).toBe(4);
    const into = new Uint8Array(8);
    expect(root.readInto(a, into)).toBe(4);
    expect(str(into.subarray(0, 4))).toBe('back');
    expect(root.readSync(a, 0).length).toBe(0);
    root.close(a);
    root.close(b);
  });

  it('datagrams keep boundaries; MSG_TRUNC gives the real length; MSG_PEEK leaves the message; FIONREAD is the next one\'s size', async () => {
    const { root } = await kernel(build);
    for (const type of [SOCK_DGRAM, SOCK_SEQPACKET]) {
      const [a, b] = root.socketpair(AF_UNIX, type);
      await root.send(a, text('hello world'));
      await root.send(a, new Uint8Array(0));
      await root.send(a, text('third'));
      expect(root.ioctl(b, FIONREAD)).toBe(type === SOCK_DGRAM ? 11 : 16);
      expect(await root.recv(b, 4, MSG_PEEK | MSG_TRUNC)).toEqual({ data: text('hell'), length: 11 });
      expect(await root.recv(b, 4)).toEqual({ data: text('hell'), length: 4 });
      expect(await root.recv(b, 4)).toEqual({ data: new Uint8Array(0), length: 0 });
      expect(await root.recv(b, 64)).toEqual({ data: text('third'), length: 5 });
      await expectRejects(root.recv(b, 64, MSG_DONTWAIT), 'EAGAIN');
      root.close(a);
      root.close(b);
    }
  });

  it('stream: after the peer closes, buffered bytes then EOF; sends are EPIPE; unread data left by the peer is ECONNRESET once', async () => {
    const { root } = await kernel(build);
    const [a, b] = root.socketpair(AF_UNIX, SOCK_STREAM);
    await root.send(a, text('last'));
    root.close(a);
    expect(str((await root.recv(b, 2)).data)).toBe('la');
    expect(str((await root.recv(b, 8, MSG_WAITALL)).data)).toBe('st');
    expect((await root.recv(b, 8)).length).toBe(0);
    await expectRejects(root.send(b, text('x')), 'EPIPE');
    await expectRejects(root.send(b, new Uint8Array(0)), 'EPIPE');
    const [c, d] = root.socketpair(AF_UNIX, SOCK_STREAM);
    await root.send(d, text('unread'));
    root.close(c);
    expect(await root.poll(d, POLLIN | POLLOUT, 0)).toBe(POLLIN | POLLOUT | POLLHUP | 0x008);
    await expectRejects(root.recv(d, 8), 'ECONNRESET');
    expect((await root.recv(d, 8)).length).toBe(0);
    // an empty record left unread is passed over: no ECONNRESET (two of them are not)
    const [e, g] = root.socketpair(AF_UNIX, SOCK_SEQPACKET);
    await root.send(e, new Uint8Array(0));
    root.close(g);
    expect((await root.recv(e, 8)).length).toBe(0);
    root.close(b);
    root.close(d);
    root.close(e);
  });

  it('dgram: the first send after the peer closed is ECONNREFUSED, then ENOTCONN; recv never reports EOF', async () => {
    const { root } = await kernel(build);
    const [a, b] = root.socketpair(AF_UNIX, SOCK_DGRAM);
    await root.send(a, text('unread by b? no: by a'));
    root.close(b);
    await expectRejects(root.recv(a, 8, MSG_DONTWAIT), 'EAGAIN');
    await expectRejects(root.send(a, text('x')), 'ECONNREFUSED');
    await expectRejects(root.send(a, text('x')), 'ENOTCONN');
    expect(await root.poll(a, POLLIN | POLLOUT, 0)).toBe(POLLOUT);
    const c = new AbortController();
    const sleeping = root.recv(a, 8, 0, { signal: c.signal });
    expect(await pending(sleeping)).toBe(true);
    c.abort();
    await expectRejects(sleeping, 'EINTR');
    root.close(a);
  });

  it('shutdown is mirrored on stream and seqpacket pairs, not on dgram; a bad how is EINVAL; a pipe is ENOTSOCK', async () => {
    const { root } = await kernel(build);
    const [a, b] = root.socketpair(AF_UNIX, SOCK_STREAM);
    await root.send(a, text('queued'));
    root.shutdown(a, SHUT_WR);
    await expectRejects(root.send(a, text('x')), 'EPIPE');
    expect(str((await root.recv(b, 64)).data)).toBe('queued');
    expect((await root.recv(b, 64)).length).toBe(0);
    root.shutdown(b, SHUT_RD);
    expect(await root.send(b, text('still'))).toBe(5);
    expectErrno(() => root.shutdown(a, 3), 'EINVAL');
    const [p, q] = root.pipe();
    expectErrno(() => root.shutdown(p, 7), 'ENOTSOCK');
    await expectRejects(root.send(q, text('x')), 'ENOTSOCK');
    expectErrno(() => root.getsockopt(p, SO_SNDBUF), 'ENOTSOCK');
    expectErrno(() => root.getsockopt(99, SO_SNDBUF), 'EBADF');
    const [x, y] = root.socketpair(AF_UNIX, SOCK_DGRAM);
    root.shutdown(x, SHUT_WR);
    await expectRejects(root.recv(y, 4, MSG_DONTWAIT), 'EAGAIN'); // not mirrored: no EOF for y
    expect(await root.send(y, text('ok'))).toBe(2);
    for (const fd of [a, b, p, q, x, y]) root.close(fd);
  });

  it('SO_SNDBUF reads back doubled; a message over SO_SNDBUF - 32 is EMSGSIZE; queued bytes count against it; raising it lets a sleeping send on', async () => {
    const { root } = await kernel(build);
    const [a, b] = root.socketpair(AF_UNIX, SOCK_DGRAM);
    root.setsockopt(a, SO_SNDBUF, 4096);
    expect(root.getsockopt(a, SO_SNDBUF)).toBe(8192);
    root.setsockopt(a, SO_RCVBUF, 1);
    expect(root.getsockopt(a, SO_RCVBUF)).toBe(2304);
    expect((thrown(() => root.setsockopt(a, 99, 1)) as { errno: number }).errno).toBe(92); // ENOPROTOOPT
    await expectRejects(root.send(a, new Uint8Array(8161)), 'EMSGSIZE');
    expect(await root.send(a, new Uint8Array(8160))).toBe(8160);
    await expectRejects(root.send(a, text('x'), MSG_DONTWAIT), 'EAGAIN');
    const sleeping = root.send(a, text('y'));
    expect(await pending(sleeping)).toBe(true);
    root.setsockopt(a, SO_SNDBUF, 65536);
    expect(await sleeping).toBe(1);
    expect((await root.recv(b, 10_000)).length).toBe(8160);
    root.close(a);
    root.close(b);
  });

  it('MSG_WAITALL waits for the full count; interrupted with bytes it returns them; SOCK_NONBLOCK is on both ends', async () => {
    const { k, root } = await kernel(build);
    const [a, b] = root.socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK);
    expect(root.fcntl(b, F_GETFL)).toBe(O_RDWR | O_NONBLOCK);
    await expectRejects(root.recv(b, 4), 'EAGAIN');
    root.fcntl(b, 4, 0); // F_SETFL: blocking again
    const c = new AbortController();
    const waiting = root.recv(b, 10, MSG_WAITALL, { signal: c.signal });
    await turn();
    await root.send(a, text('abc'));
    expect(await pending(waiting)).toBe(true);
    await root.send(a, text('de'));
    c.abort({ restart: true });
    expect(await waiting).toEqual({ data: text('abcde'), length: 5 });
    root.close(a);
    root.close(b);
    expect(emulatorUsage(k).sleeping).toBe(0);
  });

  it('argument errors in Linux\'s order; SOCK_RAW is a datagram pair', async () => {
    const { root } = await kernel(build);
    expectErrno(() => root.socketpair(1000, 17), 'EINVAL');
    expectErrno(() => root.socketpair(1000, SOCK_STREAM), 'EAFNOSUPPORT');
    expectErrno(() => root.socketpair(AF_UNIX, 15), 'EINVAL');
    expectErrno(() => root.socketpair(AF_UNIX, 4), 'ESOCKTNOSUPPORT');
    expectErrno(() => root.socketpair(AF_UNIX, SOCK_STREAM, 2), 'EPROTONOSUPPORT');
    expectErrno(() => root.socketpair(2, SOCK_STREAM), 'EOPNOTSUPP');
    const [a, b] = root.socketpair(AF_UNIX, 3);
    await root.send(a, text('datagram'));
    expect(await root.recv(b, 4, MSG_TRUNC)).toEqual({ data: text('data'), length: 8 });
    root.close(a);
    root.close(b);
  });

  it('a process\'s exit closes its socket: the peer\'s sleeping recv gets 0 (stream) and its blocked send its partial count', async () => {
    const { root } = await kernel(build);
    const [a, b] = root.socketpair(AF_UNIX, SOCK_STREAM);
    root.setsockopt(a, SO_SNDBUF, 65536);
    const child = root.fork();
    root.close(b);
    child.close(a);
    const sending = root.send(a, new Uint8Array(1 << 20));
    expect(await pending(sending)).toBe(true);
    await child.exit();
    const sent = await sending;
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(1 << 20);
    await expectRejects(root.send(a, text('x')), 'EPIPE');
    root.close(a);
  });
});
