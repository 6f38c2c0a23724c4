/**
 * Unix socket pairs on the native backend (host/native/sock.ts over
 * native/sock.cc): checklist section G as the real kernel answers it,
 * blocking send/recv on the pool with cancellation, EPIPE without SIGPIPE,
 * and no descriptor leaked.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AF_UNIX, F_GETFL, FIONREAD, MSG_DONTWAIT, MSG_PEEK, MSG_TRUNC, MSG_WAITALL, O_NONBLOCK, SHUT_RD, SHUT_WR,
  SO_SNDBUF, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_SEQPACKET, SOCK_STREAM,
} from '../../host/constants.js';
import { IpcError } from '../../host/errors.js';
import { openFds, pipe, untilAnySleeping } from './fd-helpers.js';
import { bytes, native, rejectsWith, self, throwsWith, titled } from './helpers.js';

/** x86_64: send(2) and recv(2) are sendto and recvfrom. */
const NR = { sendto: 44, recvfrom: 45 } as const;
const text = (data: Uint8Array) => new TextDecoder().decode(data);

function pair(type: number): { a: number; b: number } & Disposable {
  const [a, b] = self().socketpair(AF_UNIX, type);
  return {
    a, b,
    [Symbol.dispose]() {
      for (const fd of [a, b]) {
        try {
          self().close(fd);
        } catch (error) {
          if (!(error instanceof IpcError && error.code === 'EBADF')) throw error;
        }
      }
    },
  };
}

describe.skipIf(native.unavailable !== undefined)(titled('native socket pairs'), () => {
  let before: Set<string>;
  beforeAll(() => {
    before = openFds();
  });
  afterAll(() => {
    expect([...openFds()].filter((fd) => !before.has(fd))).toEqual([]);
  });

  it('socketpair: the three types, flags on both ends; bad domain EAFNOSUPPORT, bad type EINVAL', () => {
    const p = self();
    for (const type of [SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET]) {
      using s = pair(type);
      expect(s.a).not.toBe(s.b);
    }
    {
      using s = pair(SOCK_STREAM | SOCK_NONBLOCK);
      expect(p.fcntl(s.a, F_GETFL) & O_NONBLOCK).toBe(O_NONBLOCK);
      expect(p.fcntl(s.b, F_GETFL) & O_NONBLOCK).toBe(O_NONBLOCK);
    }
    throwsWith(() => p.socketpair(12345, SOCK_STREAM), 'EAFNOSUPPORT');
    throwsWith(() => p.socketpair(AF_UNIX, 99), 'EINVAL');
  });

  it('stream: full duplex, peek spans sends, FIONREAD counts all, EOF after shutdown(SHUT_WR)', async () => {
    const p = self();
    using s = pair(SOCK_STREAM);
    expect(await p.send(s.a, bytes('ab'))).toBe(2);
    expect(await p.send(s.a, bytes('cd'))).toBe(2);
    expect(await p.send(s.b, bytes('back'))).toBe(4);
    expect(p.ioctl(s.b, FIONREAD)).toBe(4);
    expect(text((await p.recv(s.b, 10, MSG_PEEK)).data)).toBe('abcd');
    expect(await p.recv(s.b, 10)).toEqual({ data: bytes('abcd'), length: 4 });
    expect(text((await p.recv(s.a, 10)).data)).toBe('back');
    // read and write work on sockets too (sock_read_iter honours RWF_NOWAIT).
    expect(p.writeSync(s.a, bytes('rw'))).toBe(2);
    expect(text(p.readSync(s.b, 10))).toBe('rw');
    throwsWith(() => p.readSync(s.b, 10), 'EAGAIN');
    p.shutdown(s.a, SHUT_WR);
    await rejectsWith(p.send(s.a, bytes('x')), 'EPIPE');
    expect((await p.recv(s.b, 10)).length).toBe(0);
    expect((await p.recv(s.b, 10, MSG_WAITALL)).length).toBe(0);
  });

  it('stream: a peer gone answers EPIPE (no SIGPIPE); unread data at close gives ECONNRESET', async () => {
    const p = self();
    {
      using s = pair(SOCK_STREAM);
      p.close(s.b);
      await rejectsWith(p.send(s.a, bytes('x')), 'EPIPE');
      throwsWith(() => p.writeSync(s.a, bytes('x')), 'EPIPE');
      expect((await p.recv(s.a, 10)).length).toBe(0);
    }
    {
      using s = pair(SOCK_STREAM);
      await p.send(s.a, bytes('unread'));
      p.close(s.b);
      await rejectsWith(p.recv(s.a, 10), 'ECONNRESET');
    }
  });

  it('dgram: boundaries, MSG_TRUNC gives the real size, FIONREAD the next datagram; ECONNREFUSED then ENOTCONN', async () => {
    const p = self();
    {
      using s = pair(SOCK_DGRAM);
      await p.send(s.a, bytes('first'));
      await p.send(s.a, bytes('second!'));
      expect(p.ioctl(s.b, FIONREAD)).toBe(5);
      expect(await p.recv(s.b, 3, MSG_TRUNC)).toEqual({ data: bytes('fir'), length: 5 });
      expect(await p.recv(s.b, 100)).toEqual({ data: bytes('second!'), length: 7 });
      await rejectsWith(p.recv(s.b, 10, MSG_DONTWAIT), 'EAGAIN');
      p.close(s.b);
      await rejectsWith(p.send(s.a, bytes('x')), 'ECONNREFUSED');
      await rejectsWith(p.send(s.a, bytes('x')), 'ENOTCONN');
      // Item 160: datagram sockets have no EOF.
      await rejectsWith(p.recv(s.a, 10, MSG_DONTWAIT), 'EAGAIN');
    }
    {
      using s = pair(SOCK_DGRAM);
      const size = p.getsockopt(s.a, SO_SNDBUF);
      await rejectsWith(p.send(s.a, new Uint8Array(size)), 'EMSGSIZE');
    }
  });

  it('seqpacket: boundaries; a peer gone answers EPIPE on send and 0 on recv', async () => {
    const p = self();
    using s = pair(SOCK_SEQPACKET);
    await p.send(s.a, bytes('one'));
    await p.send(s.a, bytes('two'));
    expect(await p.recv(s.b, 2)).toEqual({ data: bytes('on'), length: 2 });
    expect(text((await p.recv(s.b, 10)).data)).toBe('two');
    p.close(s.b);
    await rejectsWith(p.send(s.a, bytes('x')), 'EPIPE');
    expect((await p.recv(s.a, 10)).length).toBe(0);
  });

  it('shutdown(SHUT_RD) makes the peer\'s sends EPIPE; SO_SNDBUF reads back doubled; ENOTSOCK on a pipe', async () => {
    const p = self();
    {
      using s = pair(SOCK_STREAM);
      p.shutdown(s.a, SHUT_RD);
      await rejectsWith(p.send(s.b, bytes('x')), 'EPIPE');
      expect(await p.send(s.a, bytes('still'))).toBe(5);
      throwsWith(() => p.shutdown(s.a, 7), 'EINVAL');
      p.setsockopt(s.a, SO_SNDBUF, 8192);
      expect(p.getsockopt(s.a, SO_SNDBUF)).toBe(16384);
    }
    using q = pipe();
    await rejectsWith(p.send(q.w, bytes('x')), 'ENOTSOCK');
    throwsWith(() => p.shutdown(q.r, SHUT_RD), 'ENOTSOCK');
    throwsWith(() => p.getsockopt(q.r, SO_SNDBUF), 'ENOTSOCK');
  });

  it('blocking recv: EINTR on abort, sleeps on with restart, EAGAIN on timeout; a negative count is MAX_RW_COUNT', async () => {
    const p = self();
    using s = pair(SOCK_STREAM);
    const ac = new AbortController();
    const first = p.recv(s.b, 10, 0, { signal: ac.signal });
    await untilAnySleeping(NR.recvfrom);
    ac.abort();
    await rejectsWith(first, 'EINTR');
    const again = new AbortController();
    const second = p.recv(s.b, 10, 0, { signal: again.signal });
    await untilAnySleeping(NR.recvfrom);
    again.abort({ restart: true });
    await untilAnySleeping(NR.recvfrom);
    await p.send(s.a, bytes('woke'));
    expect(await second).toEqual({ data: bytes('woke'), length: 4 });
    await rejectsWith(p.recv(s.b, 10, 0, { timeout: 1 }), 'EAGAIN');
    // net/socket.c: import_ubuf clamps the size_t before access_ok: no EFAULT, a plain receive.
    await p.send(s.a, bytes('any'));
    expect(await p.recv(s.b, -1)).toEqual({ data: bytes('any'), length: 3 });
  });

  it('a blocking stream send waits for room, and an interrupted one returns what it sent', async () => {
    const p = self();
    using s = pair(SOCK_STREAM);
    p.setsockopt(s.a, SO_SNDBUF, 4096);
    const ac = new AbortController();
    const pending = p.send(s.a, new Uint8Array(1 << 20), 0, { signal: ac.signal });
    await untilAnySleeping(NR.sendto);
    ac.abort();
    const sent = await pending;
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(1 << 20);
    let got = 0;
    while (got < sent) got += (await p.recv(s.b, 1 << 20, MSG_DONTWAIT)).length;
    expect(got).toBe(sent);
  });
});
