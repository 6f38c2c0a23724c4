/**
 * Named AF_UNIX sockets on the native backend (host/native/listen.ts over
 * native/listen.cc): bind/listen/connect/accept as the real kernel answers
 * them, blocking connect and accept on the pool with cancellation and
 * SA_RESTART, the backlog as Linux counts it, no descriptor or socket file
 * left behind.
 */

import { mkdtempSync, readdirSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AF_UNIX, F_GETFL, O_NONBLOCK, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_SEQPACKET, SOCK_STREAM,
} from '../../host/constants.js';
import { IpcError } from '../../host/errors.js';
import { threadSelf } from '../../host/native/here.js';
import { openFds, pipe } from './fd-helpers.js';
import { bytes, native, rejectsWith, self, sleepingIn, throwsWith, titled, untilSleeping } from './helpers.js';

/** x86_64 syscall numbers: connect(2) and accept4(2). */
const NR = { connect: 42, accept4: 288 } as const;

/** Descriptors that close themselves at the end of a block (ignoring ones already closed). */
function fds(...list: number[]): number[] & Disposable {
  return Object.assign(list, {
    [Symbol.dispose]() {
      for (const fd of list) {
        try {
          self().close(fd);
        } catch (error) {
          if (!(error instanceof IpcError && error.code === 'EBADF')) throw error;
        }
      }
    },
  });
}

describe.skipIf(native.unavailable !== undefined)(titled('native named unix sockets'), () => {
  let before: Set<string>;
  let dir: string;
  let n = 0;
  const path = () => join(dir, `s${n++}`);
  /** A listening stream socket at a fresh path; unlinks its path when disposed. */
  function listener(backlog = 8, type = SOCK_STREAM): { fd: number; path: string } & Disposable {
    const p = self();
    const at = path();
    const fd = p.socket(AF_UNIX, type);
    p.bind(fd, at);
    p.listen(fd, backlog);
    return {
      fd, path: at,
      [Symbol.dispose]() {
        p.close(fd);
        p.unlink(at);
      },
    };
  }

  beforeAll(() => {
    before = openFds();
    dir = mkdtempSync(join(tmpdir(), 'ipcemu-named-'));
  });
  afterAll(() => {
    expect(readdirSync(dir)).toEqual([]);
    rmdirSync(dir);
    expect([...openFds()].filter((fd) => !before.has(fd))).toEqual([]);
  });

  it('bind/listen/connect/accept: data both ways, stat says socket (0777 less the umask)', async () => {
    const p = self();
    using l = listener();
    expect(p.stat(l.path)).toEqual({ type: 'socket', mode: 0o777 & ~process.umask() });
    using c = fds(p.socket(AF_UNIX, SOCK_STREAM));
    await p.connect(c[0]!, l.path);
    using a = fds(await p.accept(l.fd));
    expect(await p.send(c[0]!, bytes('ping'))).toBe(4);
    expect(await p.recv(a[0]!, 10)).toEqual({ data: bytes('ping'), length: 4 });
    expect(await p.send(a[0]!, bytes('pong!'))).toBe(5);
    expect(await p.recv(c[0]!, 10)).toEqual({ data: bytes('pong!'), length: 5 });
    await rejectsWith(p.connect(c[0]!, l.path), 'EISCONN');
  });

  it('errors as Linux orders them: EADDRINUSE, EINVAL, ECONNREFUSED, ENOENT, EPROTOTYPE, EOPNOTSUPP, ENOTSOCK, EBADF', async () => {
    const p = self();
    using l = listener();
    using s = fds(p.socket(AF_UNIX, SOCK_STREAM), p.socket(AF_UNIX, SOCK_STREAM), p.socket(AF_UNIX, SOCK_DGRAM));
    const [sa, sb, dg] = s as unknown as [number, number, number];
    throwsWith(() => p.bind(sa, l.path), 'EADDRINUSE');
    throwsWith(() => p.listen(sa, 1), 'EINVAL');  // not bound
    await rejectsWith(p.accept(sa), 'EINVAL');    // not listening: answered at once
    const bound = path();
    p.bind(sa, bound);
    throwsWith(() => p.bind(sa, path()), 'EINVAL');  // already bound
    await rejectsWith(p.connect(sb, bound), 'ECONNREFUSED');  // bound, nobody listens
    await rejectsWith(p.connect(sb, join(dir, 'missing')), 'ENOENT');
    await rejectsWith(p.connect(sb, ''), 'EINVAL');  // no path at all: unix_validate_addr()
    expect(() => p.bind(sb, 'x\0y')).toThrow(TypeError);  // a NUL within a path
    const dgPath = path();
    p.bind(dg, dgPath);
    throwsWith(() => p.listen(dg, 1), 'EOPNOTSUPP');
    await rejectsWith(p.accept(dg), 'EOPNOTSUPP');
    await rejectsWith(p.connect(sb, dgPath), 'EPROTOTYPE');
    using q = fds(p.socket(AF_UNIX, SOCK_SEQPACKET));
    await rejectsWith(p.connect(q[0]!, l.path), 'EPROTOTYPE');
    using pp = pipe();
    await rejectsWith(p.accept(pp.r), 'ENOTSOCK');
    throwsWith(() => p.listen(pp.r, 1), 'ENOTSOCK');
    await rejectsWith(p.accept(9999), 'EBADF');
    await rejectsWith(p.accept(9999, 0x4000000), 'EBADF');  // the descriptor before the flags
    await rejectsWith(p.accept(l.fd, 0x4000000), 'EINVAL');
    throwsWith(() => p.socket(12345, SOCK_STREAM), 'EAFNOSUPPORT');
    p.unlink(bound);
    p.unlink(dgPath);
  });

  it('sun_path: 108 bytes without a NUL bind; 109 is the kernel\'s EINVAL', () => {
    const p = self();
    using s = fds(p.socket(AF_UNIX, SOCK_STREAM), p.socket(AF_UNIX, SOCK_STREAM));
    const long = (length: number) => join(dir, 'x'.repeat(length - dir.length - 1));
    expect(long(108).length).toBe(108);
    p.bind(s[0]!, long(108));
    expect(p.stat(long(108)).type).toBe('socket');
    throwsWith(() => p.bind(s[1]!, long(109)), 'EINVAL');
    throwsWith(() => p.bind(s[1]!, long(300)), 'EINVAL');
    p.unlink(long(108));
  });

  it('accept sleeps until a connect comes; SOCK_NONBLOCK | SOCK_CLOEXEC reach the accepted socket only', async () => {
    const p = self();
    using l = listener();
    const got = p.accept(l.fd, SOCK_NONBLOCK | SOCK_CLOEXEC);
    await untilSleeping(NR.accept4, l.fd, 1);
    using c = fds(p.socket(AF_UNIX, SOCK_STREAM));
    await p.connect(c[0]!, l.path);
    using a = fds(await got);
    expect(p.fcntl(a[0]!, F_GETFL) & O_NONBLOCK).toBe(O_NONBLOCK);
    expect(p.fcntl(l.fd, F_GETFL) & O_NONBLOCK).toBe(0);
    expect(p.fcntl(a[0]!, 1 /* F_GETFD */)).toBe(1);
  });

  it('accept: abort is EINTR, abort with restart sleeps on, timeout EAGAIN; already aborted with one queued takes it', async () => {
    const p = self();
    using l = listener();
    const ac = new AbortController();
    const first = p.accept(l.fd, 0, { signal: ac.signal });
    await untilSleeping(NR.accept4, l.fd, 1);
    ac.abort();
    await rejectsWith(first, 'EINTR');
    const again = new AbortController();
    const second = p.accept(l.fd, 0, { signal: again.signal });
    await untilSleeping(NR.accept4, l.fd, 1);
    again.abort({ restart: true });
    await untilSleeping(NR.accept4, l.fd, 1);
    using c = fds(p.socket(AF_UNIX, SOCK_STREAM), p.socket(AF_UNIX, SOCK_STREAM));
    await p.connect(c[0]!, l.path);
    using a = fds(await second);
    expect(await p.send(a[0]!, bytes('r'))).toBe(1);
    await rejectsWith(p.accept(l.fd, 0, { timeout: 1 }), 'EAGAIN');
    await rejectsWith(p.accept(l.fd, 0, { timeout: 0 }), 'EAGAIN');
    const gone = new AbortController();
    gone.abort();
    await rejectsWith(p.accept(l.fd, 0, { signal: gone.signal }), 'EINTR');
    await p.connect(c[1]!, l.path);
    using b = fds(await p.accept(l.fd, 0, { signal: gone.signal }));
    expect(await p.send(b[0]!, bytes('q'))).toBe(1);
    expect(sleepingIn(NR.accept4, l.fd)).toBe(0);
  });

  it('a nonblocking listener: accept answers EAGAIN at once, then the queued connection', async () => {
    const p = self();
    const at = path();
    using l = fds(p.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK));
    p.bind(l[0]!, at);
    p.listen(l[0]!, 4);
    await rejectsWith(p.accept(l[0]!), 'EAGAIN');
    using c = fds(p.socket(AF_UNIX, SOCK_STREAM));
    await p.connect(c[0]!, at);
    using a = fds(await p.accept(l[0]!));
    expect(p.fcntl(a[0]!, F_GETFL) & O_NONBLOCK).toBe(0);
    p.unlink(at);
  });

  it('backlog N queues N + 1 connections (af_unix.c: unix_recvq_full is len > max); then connect sleeps or EAGAIN', async () => {
    const p = self();
    for (const backlog of [0, 1, 3]) {
      using l = listener(backlog);
      using c = fds(...Array.from({ length: backlog + 2 }, () => p.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK)));
      for (let i = 0; i <= backlog; i++) await p.connect(c[i]!, l.path);
      await rejectsWith(p.connect(c[backlog + 1]!, l.path), 'EAGAIN');
      using a = fds(await p.accept(l.fd));
      await p.connect(c[backlog + 1]!, l.path);
      expect(a.length).toBe(1);
    }
  });

  it('a full backlog: connect sleeps until accept makes room; abort EINTR, restart sleeps on, timeout EAGAIN', async () => {
    const p = self();
    using l = listener(0);
    using c = fds(p.socket(AF_UNIX, SOCK_STREAM), p.socket(AF_UNIX, SOCK_STREAM), p.socket(AF_UNIX, SOCK_STREAM));
    await p.connect(c[0]!, l.path);  // the one backlog 0 queues
    const ac = new AbortController();
    const blocked = p.connect(c[1]!, l.path, { signal: ac.signal });
    await untilSleeping(NR.connect, c[1]!, 1);
    ac.abort();
    await rejectsWith(blocked, 'EINTR');
    await rejectsWith(p.connect(c[1]!, l.path, { timeout: 1 }), 'EAGAIN');
    const again = new AbortController();
    const restarted = p.connect(c[1]!, l.path, { signal: again.signal });
    await untilSleeping(NR.connect, c[1]!, 1);
    again.abort({ restart: true });
    await untilSleeping(NR.connect, c[1]!, 1);
    using a = fds(await p.accept(l.fd));
    await restarted;
    using b = fds(await p.accept(l.fd));
    expect(await p.send(c[1]!, bytes('late'))).toBe(4);
    expect(await p.recv(b[0]!, 10)).toEqual({ data: bytes('late'), length: 4 });
    expect(a.length + b.length).toBe(2);
  });

  it('threadSelf: connect and accept on the calling thread', async () => {
    const here = threadSelf();
    const p = self();
    using l = listener();
    using c = fds(p.socket(AF_UNIX, SOCK_STREAM));
    await here.connect(c[0]!, l.path);
    using a = fds(await here.accept(l.fd));
    expect(await p.send(a[0]!, bytes('h'))).toBe(1);
    const gone = new AbortController();
    gone.abort();
    await rejectsWith(here.accept(l.fd, 0, { signal: gone.signal }), 'EINTR');
    // Already aborted: a connect that could not sleep still answers what the kernel says.
    using d = fds(p.socket(AF_UNIX, SOCK_STREAM));
    await rejectsWith(here.connect(d[0]!, join(dir, 'missing'), { signal: gone.signal }), 'ENOENT');
    await rejectsWith(p.connect(d[0]!, join(dir, 'missing'), { signal: gone.signal }), 'ENOENT');
  });
});
