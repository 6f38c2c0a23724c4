/**
 * Named AF_UNIX stream sockets, one body on every backend: bind, listen,
 * connect, accept, the backlog (listen(fd, 0) queues one connection:
 * unix_recvq_full() is "more than backlog"), and the errors in Linux's order.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AF_UNIX, MSG_DONTWAIT, POLLIN, POLLOUT, SO_ACCEPTCONN, SO_DOMAIN, SO_ERROR, SO_PROTOCOL, SO_TYPE, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_SEQPACKET, SOCK_STREAM,
} from '../host/constants.js';
import type { Process } from '../host/api.js';
import { BACKENDS } from './backends.js';
import { type Fds, withFds } from './fds.js';
import { rejectsWith, throwsWith } from './errors.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Runs `body` with a socket maker, the descriptor list (test/fds.ts) and a fresh directory; all are gone after. */
async function withSockets(
  p: Process, body: (sock: (type?: number) => number, fds: Fds, dir: string) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ipcemu-named-'));
  try {
    await withFds(p, (fds) => body((type = SOCK_STREAM) => fds.keep(p.socket(AF_UNIX, type)), fds, dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.each(BACKENDS)('named AF_UNIX stream sockets ($name)', (backend) => {
  it.skipIf(backend.unavailable !== undefined)('bind, listen, connect and accept; backlog 0 queues one; the name can go while the sockets stay', async () => {
    const p = await backend.process();
    await withSockets(p, async (sock, fds, dir) => {
      const path = join(dir, 'listener');
      const l = sock();
      throwsWith(() => p.listen(l, 0), 'EINVAL'); // not bound
      p.bind(l, path);
      const umask = backend.name === 'native' ? process.umask() : 0o022;
      expect(p.stat(path)).toEqual({ type: 'socket', mode: 0o777 & ~umask });
      throwsWith(() => p.bind(l, join(dir, 'other')), 'EINVAL'); // already bound
      throwsWith(() => p.bind(sock(), path), 'EADDRINUSE');
      const early = sock();
      await rejectsWith(p.connect(early, path), 'ECONNREFUSED'); // bound, nobody listens
      await rejectsWith(p.accept(l), 'EINVAL'); // not listening

      p.listen(l, 0);
      const c1 = sock();
      await p.connect(c1, path);
      const c2 = sock(SOCK_STREAM | SOCK_NONBLOCK);
      await rejectsWith(p.connect(c2, path), 'EAGAIN'); // the queue holds one already
      expect(await p.poll(l, POLLIN, 0)).toBe(POLLIN);
      const s1 = await p.accept(l);
      fds.keep(s1);
      expect(await p.poll(l, POLLIN, 0)).toBe(0);
      // the queue has room again: now a connected socket hears EISCONN (a full queue would make it sleep first)
      await rejectsWith(p.connect(c1, path), 'EISCONN');
      // the accepted socket is the client's peer, both ways
      expect(await p.send(c1, text('ping'))).toBe(4);
      expect(str((await p.recv(s1, 16)).data)).toBe('ping');
      expect(await p.send(s1, text('pong'))).toBe(4);
      expect(str((await p.recv(c1, 16)).data)).toBe('pong');
      fds.close(s1);
      expect((await p.recv(c1, 16)).data.length).toBe(0); // end of file

      // an accept sleeps until a connect comes
      const accepting = p.accept(l);
      const c3 = sock();
      await p.connect(c3, path);
      const s3 = await accepting;
      fds.keep(s3);
      // the name goes, the connection stays; a new connect finds nothing
      p.unlink(path);
      expect(await p.send(c3, text('still'))).toBe(5);
      expect(str((await p.recv(s3, 16)).data)).toBe('still');
      await rejectsWith(p.connect(early, path), 'ENOENT');
    });
  });

  it.skipIf(backend.unavailable !== undefined)('getsockname answers the name as bind was given it, also after unlink; an accepted socket carries its listener\'s name; getpeername answers the peer\'s, also after the peer closed, and ENOTCONN without one', async () => {
    const p = await backend.process();
    await withSockets(p, async (sock, fds, dir) => {
      const given = `${dir}/./l.sock`; // kept as given, not made canonical
      const l = sock();
      expect(p.getsockname(l)).toBe('');
      p.bind(l, given);
      p.listen(l, 4);
      expect(p.getsockname(l)).toBe(given);
      throwsWith(() => p.getpeername(l), 'ENOTCONN');
      const c = sock();
      throwsWith(() => p.getpeername(c), 'ENOTCONN');
      await p.connect(c, join(dir, 'l.sock'));
      expect(p.getpeername(c)).toBe(given); // the accepted socket's name: the listener's
      const s = await p.accept(l);
      fds.keep(s);
      expect(p.getsockname(s)).toBe(given);
      expect(p.getpeername(s)).toBe(''); // an unnamed client
      p.unlink(join(dir, 'l.sock'));
      expect(p.getsockname(l)).toBe(given);
      fds.close(s);
      expect(p.getpeername(c)).toBe(given); // the peer has closed: its name stays
      // a named client
      const named = sock();
      p.bind(named, join(dir, 'client.sock'));
      const l2 = sock();
      p.bind(l2, join(dir, 'l2.sock'));
      p.listen(l2, 1);
      await p.connect(named, join(dir, 'l2.sock'));
      const s2 = await p.accept(l2);
      fds.keep(s2);
      expect(p.getpeername(s2)).toBe(join(dir, 'client.sock'));
      fds.close(named);
      expect(p.getpeername(s2)).toBe(join(dir, 'client.sock'));
      // a pair is unnamed on both sides; a datagram socket alone has no peer
      const [x, y] = p.socketpair(AF_UNIX, SOCK_STREAM);
      fds.keep(x, y);
      expect([p.getsockname(x), p.getpeername(x)]).toEqual(['', '']);
      throwsWith(() => p.getpeername(sock(SOCK_DGRAM)), 'ENOTCONN');
      const [r, w] = p.pipe();
      fds.keep(r, w);
      throwsWith(() => p.getsockname(r), 'ENOTSOCK');
      throwsWith(() => p.getpeername(w), 'ENOTSOCK');
    });
  });

  it.skipIf(backend.unavailable !== undefined)('abstract names (a leading NUL): no file, one name per socket type, free again once its socket closes; bind to \'\' autobinds to NUL and five hex digits', async () => {
    const p = await backend.process();
    // the kernel's abstract names are shared by every process of the network namespace: make this one unique
    const name = `\0ipcemu-test-${process.pid}-${backend.name}-${Date.now()}`;
    await withSockets(p, async (sock, fds) => {
      const l = sock();
      p.bind(l, name);
      p.listen(l, 1);
      expect(p.getsockname(l)).toBe(name);
      throwsWith(() => p.bind(sock(), name), 'EADDRINUSE');
      throwsWith(() => p.bind(l, `${name}-2`), 'EINVAL'); // already bound
      const d = sock(SOCK_DGRAM);
      p.bind(d, name); // another type has names of its own
      await rejectsWith(p.connect(sock(SOCK_SEQPACKET), name), 'ECONNREFUSED'); // not EPROTOTYPE: no seqpacket socket has it
      await rejectsWith(p.connect(sock(), `${name}-missing`), 'ECONNREFUSED');
      await rejectsWith(p.connect(sock(), `${name}\0`), 'ECONNREFUSED'); // every byte counts
      const c = sock();
      await p.connect(c, name);
      expect(p.getpeername(c)).toBe(name);
      const s = await p.accept(l);
      fds.keep(s);
      expect(p.getsockname(s)).toBe(name);
      expect(await p.send(c, text('abstract'))).toBe(8);
      expect(str((await p.recv(s, 16)).data)).toBe('abstract');
      fds.close(l);
      p.bind(sock(), name); // free again, though a connection it accepted is open
      // autobind
      const a = sock();
      p.bind(a, '');
      const auto = p.getsockname(a);
      expect(auto).toMatch(/^\0[0-9a-f]{5}$/);
      p.bind(a, ''); // a bound socket: nothing to do
      expect(p.getsockname(a)).toBe(auto);
      p.listen(a, 1);
      const c2 = sock();
      await p.connect(c2, auto);
      expect(p.getpeername(c2)).toBe(auto);
      // sun_path holds 108 bytes, the leading NUL among them
      const long = `\0${'x'.repeat(107)}`.replace('x', String(process.pid % 10));
      const b = sock();
      p.bind(b, long);
      expect(p.getsockname(b)).toBe(long);
      throwsWith(() => p.bind(sock(), `${long}y`), 'EINVAL');
    });
  });

  it.skipIf(backend.unavailable !== undefined)('getsockopt SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ACCEPTCONN and SO_ERROR, which takes the pending error so that a recv no longer sees it; none of them can be set', async () => {
    const p = await backend.process();
    await withSockets(p, async (sock, fds) => {
      for (const type of [SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET]) {
        const fd = fds.keep(p.socket(AF_UNIX, type, 1)); // PF_UNIX, which unix_create accepts and does not keep
        expect([SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ACCEPTCONN, SO_ERROR].map((o) => p.getsockopt(fd, o))).toEqual([type, AF_UNIX, 0, 0, 0]);
      }
      const l = sock();
      p.bind(l, `\0ipcemu-so-${process.pid}-${backend.name}-${Date.now()}`);
      p.listen(l, 1);
      expect(p.getsockopt(l, SO_ACCEPTCONN)).toBe(1);
      for (const o of [SO_TYPE, SO_ERROR, SO_ACCEPTCONN, SO_PROTOCOL, SO_DOMAIN]) throwsWith(() => p.setsockopt(l, o, 1), 'ENOPROTOOPT');
      // a peer that closes with bytes of ours unread leaves ECONNRESET pending
      const [a, b] = p.socketpair(AF_UNIX, SOCK_STREAM);
      const [c, d] = p.socketpair(AF_UNIX, SOCK_STREAM);
      fds.keep(b, d);
      await p.send(b, text('unread'));
      await p.send(d, text('unread'));
      p.close(a);
      p.close(c);
      await rejectsWith(p.recv(b, 8), 'ECONNRESET');
      expect(p.getsockopt(d, SO_ERROR)).toBe(104);
      expect(p.getsockopt(d, SO_ERROR)).toBe(0);
      expect((await p.recv(d, 8)).length).toBe(0); // taken: end of file, no ECONNRESET
    });
  });

  it.skipIf(backend.unavailable !== undefined)('a datagram socket connects to a bound one: the lookup\'s errors, EPERM when the receiver is connected elsewhere; the receiver holds 11 datagrams, then EAGAIN and no POLLOUT until a receive, a blocking send sleeps until one; its close: ECONNREFUSED, then ENOTCONN', async () => {
    const p = await backend.process();
    await withSockets(p, async (sock, fds, dir) => {
      const r = sock(SOCK_DGRAM);
      p.bind(r, join(dir, 'r'));
      const x = sock(SOCK_DGRAM);
      await rejectsWith(p.connect(x, join(dir, 'missing')), 'ENOENT');
      const l = sock();
      p.bind(l, join(dir, 'l'));
      p.listen(l, 1);
      await rejectsWith(p.connect(x, join(dir, 'l')), 'EPROTOTYPE');
      await rejectsWith(p.connect(x, `\0ipcemu-none-${process.pid}-${Date.now()}`), 'ECONNREFUSED');
      await rejectsWith(p.send(x, text('x')), 'ENOTCONN');
      await p.connect(x, join(dir, 'r'));
      expect(p.getpeername(x)).toBe(join(dir, 'r'));
      // max_dgram_qlen (10): the queue is full above it
      let sent = 0;
      while (sent < 100 && (await p.send(x, text(`m${sent}`), MSG_DONTWAIT).then(() => true, () => false))) sent++;
      expect(sent).toBe(11);
      await rejectsWith(p.send(x, text('more'), MSG_DONTWAIT), 'EAGAIN');
      expect(await p.poll(x, POLLOUT, 0)).toBe(0);
      const writable = p.poll(x, POLLOUT, -1);
      expect(str((await p.recv(r, 16)).data)).toBe('m0');
      expect(await writable).toBe(POLLOUT);
      await p.send(x, text('m11'), MSG_DONTWAIT); // full again
      const sleeping = p.send(x, text('late'));
      expect(str((await p.recv(r, 16)).data)).toBe('m1');
      expect(await sleeping).toBe(4);
      // a receiver connected to another socket takes nothing from this one
      const z = sock(SOCK_DGRAM);
      p.bind(z, join(dir, 'z'));
      await p.connect(r, join(dir, 'z'));
      await rejectsWith(p.send(x, text('x'), MSG_DONTWAIT), 'EPERM');
      await rejectsWith(p.connect(sock(SOCK_DGRAM), join(dir, 'r')), 'EPERM');
      fds.close(r);
      await rejectsWith(p.send(x, text('x')), 'ECONNREFUSED');
      await rejectsWith(p.send(x, text('x')), 'ENOTCONN');
    });
  });

  it.skipIf(backend.unavailable !== undefined)('a datagram socket that connects elsewhere drops what it had received, and a peer connected back to it gets ECONNRESET and then EPERM; a socket may connect to itself', async () => {
    const p = await backend.process();
    await withSockets(p, async (sock, _fds, dir) => {
      const [a, b, c] = ['a', 'b', 'c'].map((name) => {
        const fd = sock(SOCK_DGRAM);
        p.bind(fd, join(dir, name));
        return fd;
      }) as [number, number, number];
      await p.connect(b, join(dir, 'a'));
      await p.connect(a, join(dir, 'b'));
      await p.send(b, text('to a'));
      expect(await p.poll(a, POLLIN, 0)).toBe(POLLIN);
      await p.connect(a, join(dir, 'c'));
      await rejectsWith(p.recv(a, 16, MSG_DONTWAIT), 'EAGAIN'); // dropped
      expect(p.getsockopt(b, SO_ERROR)).toBe(104);
      await rejectsWith(p.send(b, text('x')), 'EPERM'); // a is connected to c now
      await p.connect(c, join(dir, 'c'));
      await p.send(c, text('self'));
      expect(str((await p.recv(c, 16)).data)).toBe('self');
    });
  });

  it.skipIf(backend.unavailable !== undefined)('sendto and recvfrom: a datagram socket sends to any bound socket that may take it, named at each call; recvfrom names the sender; the errors; stream and seqpacket sockets', async () => {
    const p = await backend.process();
    await withSockets(p, async (sock, fds, dir) => {
      const bound = (name: string): number => {
        const fd = sock(SOCK_DGRAM);
        p.bind(fd, join(dir, name));
        return fd;
      };
      const r = bound('r');
      const a = bound('a');
      const u = sock(SOCK_DGRAM); // unnamed
      expect(await p.sendto(a, text('from a'), join(dir, 'r'))).toBe(6);
      expect(await p.sendto(u, text('from u'), join(dir, 'r'))).toBe(6);
      expect(await p.recvfrom(r, 16)).toEqual({ data: text('from a'), length: 6, from: join(dir, 'a') });
      expect(await p.recvfrom(r, 16)).toEqual({ data: text('from u'), length: 6, from: '' });
      const abs = `\0ipcemu-dgram-${process.pid}-${backend.name}-${Date.now()}`;
      const q = sock(SOCK_DGRAM);
      p.bind(q, abs);
      await p.sendto(a, text('x'), abs);
      expect((await p.recvfrom(q, 4)).from).toBe(join(dir, 'a'));
      await rejectsWith(p.sendto(a, text('x'), join(dir, 'missing')), 'ENOENT');
      await rejectsWith(p.sendto(a, text('x'), `${abs}-missing`), 'ECONNREFUSED');
      await rejectsWith(p.sendto(a, text('x'), ''), 'EINVAL');
      const l = sock();
      p.bind(l, join(dir, 'l'));
      p.listen(l, 1);
      await rejectsWith(p.sendto(a, text('x'), join(dir, 'l')), 'EPROTOTYPE');
      // a connected socket may still send elsewhere; a receiver connected to another socket refuses
      await p.connect(a, join(dir, 'r'));
      await p.sendto(a, text('to q'), abs);
      expect(str((await p.recv(q, 8)).data)).toBe('to q');
      await p.connect(q, join(dir, 'r'));
      await rejectsWith(p.sendto(u, text('x'), abs), 'EPERM');
      // the receiver's queue limit holds for sendto too; a sleeping sendto is let in by a receive
      let sent = 0;
      while (sent < 100 && (await p.sendto(u, text('m'), join(dir, 'r'), MSG_DONTWAIT).then(() => true, () => false))) sent++;
      expect(sent).toBe(11);
      const sleeping = p.sendto(u, text('late'), join(dir, 'r'));
      await p.recv(r, 4);
      expect(await sleeping).toBe(4);
      // a sleeping recvfrom names its sender too
      const w = bound('w');
      const waiting = p.recvfrom(w, 8);
      await p.sendto(bound('b'), text('wake'), join(dir, 'w'));
      expect(await waiting).toEqual({ data: text('wake'), length: 4, from: join(dir, 'b') });
      fds.close(r);
      await rejectsWith(p.sendto(u, text('x'), join(dir, 'r')), 'ECONNREFUSED'); // the file stays, its socket is gone
      // a stream socket refuses a name; a seqpacket one ignores it
      const [s1, s2] = p.socketpair(AF_UNIX, SOCK_STREAM);
      fds.keep(s1, s2);
      await rejectsWith(p.sendto(s1, text('x'), abs), 'EISCONN');
      await rejectsWith(p.sendto(sock(), text('x'), abs), 'EOPNOTSUPP');
      const [q1, q2] = p.socketpair(AF_UNIX, SOCK_SEQPACKET);
      fds.keep(q1, q2);
      expect(await p.sendto(q1, text('no name'), join(dir, 'missing'))).toBe(7);
      expect(await p.recvfrom(q2, 16)).toEqual({ data: text('no name'), length: 7, from: '' });
      // on a stream, recvfrom names the peer: a client hears its listener's name
      const c = sock();
      await p.connect(c, join(dir, 'l'));
      const sv = fds.keep(await p.accept(l));
      await p.send(sv, text('hi'));
      expect(await p.recvfrom(c, 8)).toEqual({ data: text('hi'), length: 2, from: join(dir, 'l') });
      await p.send(c, text('yo'));
      expect((await p.recvfrom(sv, 8)).from).toBe('');
    });
  });

  it.skipIf(backend.unavailable !== undefined)('a connect whose signal is already aborted connects when the backlog has room, and fails with EINTR (EAGAIN for timeout 0) when it would sleep', async () => {
    const p = await backend.process();
    await withSockets(p, async (sock, fds, dir) => {
      const path = join(dir, 'listener');
      const l = sock();
      p.bind(l, path);
      p.listen(l, 0);
      const aborted = AbortSignal.abort();
      const c1 = sock();
      await p.connect(c1, path, { signal: aborted }); // room for one: no sleep, so the signal changes nothing
      await rejectsWith(p.connect(sock(), path, { signal: aborted }), 'EINTR');
      await rejectsWith(p.connect(sock(), path, { timeout: 0 }), 'EAGAIN');
      fds.keep(await p.accept(l));
      await p.connect(sock(), path, { timeout: 0 }); // room again
    });
  });
});
