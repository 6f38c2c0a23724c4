/**
 * SIGPIPE as Linux would send it, counted on the writer (SimProcess.sigpipes):
 * fs/pipe.c sends it on every write that finds no reader, partial count or
 * not (CHECKLIST 130, 131); af_unix.c only for a stream write that moved
 * nothing without MSG_NOSIGNAL (155), which send always implies.
 */

import { describe, expect, it } from 'vitest';
import { AF_UNIX, SOCK_DGRAM, SOCK_STREAM } from '../../host/constants.js';
import { BUILDS, expectErrno, expectRejects, kernel, pending, text } from './helpers.js';

describe.each(BUILDS)('SIGPIPE (%s build)', (build) => {
  it('a pipe write of twice the capacity returns the capacity when the last reader leaves, and the next write fails: two SIGPIPEs', async () => {
    const { k, root } = await kernel(build);
    const [r, w] = root.pipe();
    const child = root.fork();
    root.close(r);
    expect(root.sigpipes).toBe(0);
    const writing = root.write(w, new Uint8Array(2 * 65536));
    expect(await pending(writing)).toBe(true);
    child.close(r);
    expect(await writing).toBe(65536);
    expect(root.sigpipes).toBe(1);
    expectErrno(() => root.writeSync(w, text('x')), 'EPIPE');
    await expectRejects(root.write(w, text('y')), 'EPIPE');
    expect(root.sigpipes).toBe(3);
    // a zero-length write never gets that far ("Null write succeeds")
    expect(root.writeSync(w, new Uint8Array(0))).toBe(0);
    expect(root.sigpipes).toBe(3);
    // the child wrote nothing, and a fork starts at 0
    expect(child.sigpipes).toBe(0);
    expect(root.fork().sigpipes).toBe(0);
    void k;
  });

  it('a stream socket: write(2) to a closed peer signals, send (MSG_NOSIGNAL) does not; datagram sockets never do', async () => {
    const { root } = await kernel(build);
    const [x, y] = root.socketpair(AF_UNIX, SOCK_STREAM);
    root.close(y);
    await expectRejects(root.send(x, text('a')), 'EPIPE');
    expect(root.sigpipes).toBe(0);
    await expectRejects(root.write(x, text('a')), 'EPIPE');
    expect(root.sigpipes).toBe(1);
    const [d, e] = root.socketpair(AF_UNIX, SOCK_DGRAM);
    root.close(e);
    await expectRejects(root.write(d, text('a')), 'ECONNREFUSED');
    await expectRejects(root.write(d, text('a')), 'ENOTCONN');
    expect(root.sigpipes).toBe(1);
  });

  it('after exit the count is gone with the process: ESRCH', async () => {
    const { root } = await kernel(build);
    const child = root.fork();
    await child.exit();
    expect(() => child.sigpipes).toThrow(/ESRCH/);
  });
});
