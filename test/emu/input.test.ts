/**
 * Bad input of every kind: what Linux answers with an errno is an IpcError
 * with that errno, in the kernel's order; what no C call could be given is a
 * TypeError or RangeError. Either way the queue is left exactly as it was.
 */

import { describe, expect, it } from 'vitest';
import type { MsqidSet, SimProcess } from '../../host/api.js';
import { IPC_INFO, IPC_NOWAIT, IPC_RMID, IPC_SET, IPC_STAT, MSG_INFO, MSG_STAT } from '../../host/constants.js';
import { BUILDS, cleanUp, expectErrno, expectRejects, kernel, queue, stat, text, thrown } from './helpers.js';

const detached = (): Uint8Array => {
  const buffer = new ArrayBuffer(8);
  structuredClone(buffer, { transfer: [buffer] });
  return new Uint8Array(buffer);
};

/** Runs `bad` and checks that the queue's state did not change. */
function unchanged(p: SimProcess, q: number, bad: () => void): void {
  const before = stat(p, q);
  bad();
  expect(stat(p, q)).toEqual(before);
}

describe.each(BUILDS)('bad input (%s build)', (build) => {
  it('ids: negative is EINVAL for every call; a non-integer is a TypeError; beyond a C int a RangeError', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    root.msgsndSync(q, 1, text('keep'));
    unchanged(root, q, () => {
      expectErrno(() => root.msgsndSync(-1, 1, text('x')), 'EINVAL');
      expectErrno(() => root.msgrcvSync(-1, 8, 0), 'EINVAL');
      expectErrno(() => root.msgctl(-1, IPC_STAT), 'EINVAL');
      expectErrno(() => root.msgctl(-1, IPC_INFO), 'EINVAL'); // the id's sign is checked before the command
      expectErrno(() => root.msgctl(-1, IPC_RMID), 'EINVAL');
      expect(thrown(() => root.msgrcvSync(1.5, 8, 0))).toBeInstanceOf(TypeError);
      expect(thrown(() => root.msgrcvSync(Number.NaN, 8, 0))).toBeInstanceOf(TypeError);
      expect(thrown(() => root.msgrcvSync('0' as unknown as number, 8, 0))).toBeInstanceOf(TypeError);
      expect(thrown(() => root.msgrcvSync(2 ** 31, 8, 0))).toBeInstanceOf(RangeError);
      expect(thrown(() => root.msgget(2 ** 32, 0))).toBeInstanceOf(RangeError);
      expect(thrown(() => root.msgctl(q, 2.5))).toBeInstanceOf(TypeError);
    });
    cleanUp(k, root, q);
  });

  it('msgsnd: EINVAL for a size over msgmax before the id, then for mtype < 1; a bad mtype type is a TypeError', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    unchanged(root, q, () => {
      expectErrno(() => root.msgsndSync(q, 0, text('x')), 'EINVAL');
      expectErrno(() => root.msgsndSync(q, -5, text('x')), 'EINVAL');
      expectErrno(() => root.msgsndSync(q, -(2n ** 63n), text('x')), 'EINVAL');
      expectErrno(() => root.msgsndSync(q + 1, 0, text('x')), 'EINVAL');
      expectErrno(() => root.msgsndSync(q + 1, 1, new Uint8Array(9000)), 'EINVAL');
      expect(thrown(() => root.msgsndSync(q, 1.5, text('x')))).toBeInstanceOf(TypeError);
      expect(thrown(() => root.msgsndSync(q, Number.NaN, text('x')))).toBeInstanceOf(TypeError);
      expect(thrown(() => root.msgsndSync(q, 2 ** 53, text('x')))).toBeInstanceOf(TypeError);
      expect(thrown(() => root.msgsndSync(q, 2n ** 63n, text('x')))).toBeInstanceOf(RangeError);
      expect(thrown(() => root.msgsndSync(q, 1, 'text' as unknown as Uint8Array))).toBeInstanceOf(TypeError);
      expect(thrown(() => root.msgsndSync(q, 1, [1, 2] as unknown as Uint8Array))).toBeInstanceOf(TypeError);
      expect(thrown(() => root.msgsndSync(q, 1, detached()))).toBeInstanceOf(TypeError);
      expect(thrown(() => root.msgsndSync(q, 1, text('x'), 0.5))).toBeInstanceOf(TypeError);
    });
    await expect(root.msgsnd(q, 1.5, text('x'))).rejects.toBeInstanceOf(TypeError);
    await expectRejects(root.msgsnd(q, 0, text('x')), 'EINVAL');
    await expect(root.msgsnd(q, 1, text('x'), 0, { timeout: -1 })).rejects.toBeInstanceOf(RangeError);
    await expect(root.msgsnd(q, 1, text('x'), 0, { signal: {} as AbortSignal })).rejects.toBeInstanceOf(TypeError);
    expect(stat(root, q).msg_qnum).toBe(0);
    cleanUp(k, root, q);
  });

  it('msgrcv: a negative msgsz is EINVAL, a fractional one a TypeError; a huge one is fine', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    root.msgsndSync(q, 1, text('data'));
    unchanged(root, q, () => {
      expectErrno(() => root.msgrcvSync(q, -1, 0), 'EINVAL');
      expectErrno(() => root.msgrcvSync(q, -(2 ** 40), 0), 'EINVAL');
      expect(thrown(() => root.msgrcvSync(q, 1.5, 0))).toBeInstanceOf(TypeError);
      expect(thrown(() => root.msgrcvSync(q, 8, 0.5))).toBeInstanceOf(TypeError);
      expect(thrown(() => root.msgrcvSync(q, 8, 2n ** 64n))).toBeInstanceOf(RangeError);
      expect(thrown(() => root.msgrcvInto(q, new Uint8Array(0).buffer as unknown as Uint8Array, 0))).toBeInstanceOf(TypeError);
      expect(thrown(() => root.msgrcvInto(q, detached(), 0))).toBeInstanceOf(TypeError);
    });
    // an empty buffer is a buffer of size 0: E2BIG for a non-empty message
    expectErrno(() => root.msgrcvInto(q, new Uint8Array(0), 0), 'E2BIG');
    expect(root.msgrcvSync(q, Number.MAX_SAFE_INTEGER, 0).data).toEqual(text('data'));
    cleanUp(k, root, q);
  });

  it('msgctl: an unknown or negative command is EINVAL; IPC_SET without a buffer is EFAULT before the id is looked up', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    unchanged(root, q, () => {
      expectErrno(() => root.msgctl(q, 99), 'EINVAL');
      expectErrno(() => root.msgctl(q, -1), 'EINVAL');
      expectErrno(() => root.msgctl(q, 4), 'EINVAL');
      expectErrno(() => root.msgctl(q, IPC_SET, undefined as unknown as MsqidSet), 'EFAULT');
      expectErrno(() => root.msgctl(q + 1, IPC_SET, null as unknown as MsqidSet), 'EFAULT');
      expectErrno(() => root.msgctl(-1, IPC_SET, undefined as unknown as MsqidSet), 'EINVAL');
      expect(thrown(() => root.msgctl(q, IPC_SET, 5 as unknown as MsqidSet))).toBeInstanceOf(TypeError);
      expect(thrown(() => root.msgctl(q, IPC_SET, { uid: 1.5 }))).toBeInstanceOf(TypeError);
      expect(thrown(() => root.msgctl(q, IPC_SET, { gid: 2 ** 32 }))).toBeInstanceOf(RangeError);
      expect(thrown(() => root.msgctl(q, IPC_SET, { msg_qbytes: 0.5 }))).toBeInstanceOf(TypeError);
      expectErrno(() => root.msgctl(q, IPC_SET, { uid: 0xffffffff }), 'EINVAL');
      expectErrno(() => root.msgctl(q + 1, MSG_STAT), 'EINVAL'); // an index with no queue
    });
    expect(root.msgctl(q, IPC_SET, {})).toBe(0); // nothing given: nothing changes but ctime
    expect(root.msgctl(0, MSG_INFO).result).toBe(0);
    cleanUp(k, root, q);
  });

  it('msg_qbytes reaches the kernel as an int: above msgmnb without CAP_SYS_RESOURCE is EPERM, -1 too; 2^32 + 4 is 4', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    const noResource = k.spawn({ uid: 0, caps: ((1n << 41n) - 1n) & ~(1n << 24n) });
    unchanged(root, q, () => {
      expectErrno(() => noResource.msgctl(q, IPC_SET, { msg_qbytes: 16385 }), 'EPERM');
      expectErrno(() => noResource.msgctl(q, IPC_SET, { msg_qbytes: -1 }), 'EPERM');
    });
    noResource.msgctl(q, IPC_SET, { msg_qbytes: 2 ** 32 + 4 });
    expect(stat(root, q).msg_qbytes).toBe(4);
    noResource.msgctl(q, IPC_SET, { msg_qbytes: 16384 });
    // with CAP_SYS_RESOURCE, -1 is taken and sign-extended into the unsigned long: no limit at all
    root.msgctl(q, IPC_SET, { msg_qbytes: -1 });
    expect(stat(root, q).msg_qbytes).toBe(2 ** 64);
    for (let i = 0; i < 3; i++) root.msgsndSync(q, 1, new Uint8Array(8192));
    // and left out, the current value is passed back as the kernel would get it: -1 again
    expectErrno(() => noResource.msgctl(q, IPC_SET, { mode: 0o600 }), 'EPERM');
    root.msgctl(q, IPC_SET, { mode: 0o600 });
    expect(stat(root, q).msg_qbytes).toBe(2 ** 64);
    cleanUp(k, root, q);
  });

  it('spawn options and limits that no kernel takes are TypeErrors or RangeErrors', async () => {
    const { k, root } = await kernel(build);
    expect(thrown(() => k.spawn({ uid: -1 }))).toBeInstanceOf(RangeError);
    expect(thrown(() => k.spawn({ uid: 0xffffffff }))).toBeInstanceOf(RangeError);
    expect(thrown(() => k.spawn({ uid: 1.5 }))).toBeInstanceOf(TypeError);
    expect(thrown(() => k.spawn({ groups: [-3] }))).toBeInstanceOf(RangeError);
    expect(thrown(() => k.spawn({ groups: 5 as unknown as number[] }))).toBeInstanceOf(TypeError);
    expect(thrown(() => k.spawn({ caps: 1 as unknown as bigint }))).toBeInstanceOf(TypeError);
    expect(thrown(() => k.spawn({ caps: -1n }))).toBeInstanceOf(RangeError);
    expect(thrown(() => k.setLimits({ msgmni: 40000 }))).toBeInstanceOf(RangeError);
    expect(thrown(() => k.setLimits({ msgmax: -1 }))).toBeInstanceOf(RangeError);
    expect(thrown(() => k.setLimits({ msgmnb: 1.5 }))).toBeInstanceOf(TypeError);
    expect(k.limits).toMatchObject({ msgmax: 8192, msgmnb: 16384, msgmni: 32000 });
    cleanUp(k, root);
  });

  it('sync forms imply IPC_NOWAIT; the promise forms report errors as rejections, never throws', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    expectErrno(() => root.msgrcvSync(q, 8, 0, 0), 'ENOMSG');
    root.msgctl(q, IPC_SET, { msg_qbytes: 0 });
    expectErrno(() => root.msgsndSync(q, 1, text('x'), 0), 'EAGAIN');
    const rejected = root.msgrcv(-1, 8, 0, IPC_NOWAIT);
    expect(rejected).toBeInstanceOf(Promise);
    await expectRejects(rejected, 'EINVAL');
    cleanUp(k, root, q);
  });
});
