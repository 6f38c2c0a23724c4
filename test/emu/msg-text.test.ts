/**
 * The text of a message crosses intact whatever its length and path: the
 * core copies short texts without a loop (mem/alloc.ts: copyBytes), the host
 * through cached views of the staging buffer, which moves when a longer
 * text needs a larger one. Also what the hot paths of the host skip: the checked
 * argument paths give the same answers, and MSG_INFO's totals (summed when
 * asked) follow sends, receives, hand-offs and removal.
 */

import { describe, expect, it } from 'vitest';
import { IPC_NOWAIT, IPC_SET, MSG_COPY, MSG_INFO, MSG_NOERROR } from '../../host/constants.js';
import { BUILDS, cleanUp, expectErrno, expectRejects, kernel, queue } from './helpers.js';

/** `n` bytes that differ from their neighbours and from those of another length. */
const pattern = (n: number, seed = n): Uint8Array => new Uint8Array(n).map((_, i) => (i * 131 + seed * 7 + 1) & 0xff);

const LENGTHS = [...Array.from({ length: 300 }, (_, i) => i), 511, 512, 513, 1023, 1024, 1025, 4095, 4096, 4097, 8191, 8192];

describe.each(BUILDS)('message text (%s build)', (build) => {
  it('every length travels byte for byte through each way of receiving, and a buffer is written no further than the text', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    root.msgctl(q, IPC_SET, { msg_qbytes: 3 * 8192 }); // root may pass msgmnb
    const buf = new Uint8Array(8200 + 16);
    for (const n of LENGTHS) {
      const data = pattern(n);
      root.msgsndSync(q, n + 1, data);
      root.msgsndSync(q, n + 1, data);
      root.msgsndSync(q, n + 1, data);
      expect(root.msgrcvSync(q, n, 0, MSG_COPY | IPC_NOWAIT)).toEqual({ mtype: n + 1, data });
      expect(root.msgrcvSync(q, 8192, n + 1)).toEqual({ mtype: n + 1, data });
      expect(await root.msgrcv(q, n, -(n + 1))).toEqual({ mtype: n + 1, data });
      buf.fill(0xa5);
      expect(root.msgrcvInto(q, buf.subarray(8, 8 + 8200), 0)).toEqual({ mtype: n + 1, length: n });
      expect(buf.subarray(8, 8 + n)).toEqual(data);
      expect(buf.subarray(0, 8).every((b) => b === 0xa5) && buf.subarray(8 + n).every((b) => b === 0xa5)).toBe(true);
    }
    cleanUp(k, root, q);
  });

  it('MSG_NOERROR cuts a text at every length below its own', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    const data = pattern(100);
    for (let cut = 0; cut <= 100; cut++) {
      root.msgsndSync(q, 1, data);
      expect(root.msgrcvSync(q, cut, 0, MSG_NOERROR).data).toEqual(data.subarray(0, cut));
    }
    cleanUp(k, root, q);
  });

  it('a text handed to a sleeping receiver arrives whole at every length', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    for (const n of LENGTHS) {
      const got = root.msgrcv(q, 8192, 0);
      root.msgsndSync(q, 2, pattern(n, 3));
      expect(await got).toEqual({ mtype: 2, data: pattern(n, 3) });
    }
    cleanUp(k, root, q);
  });

  it('a text longer than the staging buffer moves it; later texts of any length still arrive whole', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    k.setLimits({ msgmax: 70000 });
    root.msgctl(q, IPC_SET, { msg_qbytes: 200000 });
    const short = pattern(64);
    root.msgsndSync(q, 1, short);
    expect(root.msgrcvInto(q, new Uint8Array(64), 0)).toEqual({ mtype: 1, length: 64 }); // a view of the old buffer is cached
    for (const n of [9000, 20000, 65536, 70000]) {
      root.msgsndSync(q, 1, pattern(n));
      const buf = new Uint8Array(n);
      expect(root.msgrcvInto(q, buf, 0)).toEqual({ mtype: 1, length: n });
      expect(buf).toEqual(pattern(n));
      root.msgsndSync(q, 1, short);
      const small = new Uint8Array(64);
      root.msgrcvInto(q, small, 0);
      expect(small).toEqual(short);
      root.msgsndSync(q, 1, pattern(n, 5));
      expect(root.msgrcvSync(q, n, 0).data).toEqual(pattern(n, 5));
    }
    cleanUp(k, root, q);
  });

  it('types that fit 31 bits, 32 bits, 53 bits and 64 bits come back as sent', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    for (const mtype of [1, 2 ** 30 - 1, 2 ** 30, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2n ** 53n, 2n ** 63n - 1n]) {
      root.msgsndSync(q, mtype, pattern(3));
      expect(root.msgrcvInto(q, new Uint8Array(3), 0).mtype).toBe(mtype);
      await root.msgsnd(q, mtype, pattern(3));
      expect((await root.msgrcv(q, 3, 0)).mtype).toBe(mtype);
    }
    cleanUp(k, root, q);
  });

  it('the checked argument paths answer as the inline ones: flags and sizes as other numbers, types as bigints', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    root.msgsndSync(q, 5n, pattern(4), 0);
    await root.msgsnd(q, 6, pattern(4), undefined, {});
    expect(root.msgrcvSync(q, 2 ** 40, 5n)).toEqual({ mtype: 5, data: pattern(4) });
    expect(await root.msgrcv(q, 4, 6, 0, { timeout: 1000 })).toEqual({ mtype: 6, data: pattern(4) });
    expectErrno(() => root.msgrcvSync(q, -1, 0), 'EINVAL');
    await expectRejects(root.msgrcv(q, -(2 ** 40), 0), 'EINVAL');
    expect(() => root.msgsndSync(q, 1.5, pattern(1))).toThrow(TypeError);
    expect(() => root.msgrcvInto(q, new Uint8Array(1), 0, 0.5)).toThrow(TypeError);
    await expect(root.msgsnd(q, 1, pattern(1), 0, { timeout: -1 })).rejects.toThrow(RangeError);
    await expect(root.msgrcv(q, 1, 0, 0, 'soon' as never)).rejects.toThrow(TypeError);
    expect(root.msgctl(q, IPC_SET, {})).toBe(0); // no message was sent or taken by the calls that failed
    expectErrno(() => root.msgrcvSync(q, 8, 0), 'ENOMSG');
    cleanUp(k, root, q);
  });

  it('MSG_INFO counts what the queues hold: not a text handed to a sleeping receiver, nor a removed queue\'s', async () => {
    const { k, root } = await kernel(build);
    const a = queue(root);
    const b = queue(root);
    const totals = (): [number, number] => {
      const info = root.msgctl(0, MSG_INFO);
      return [info.msgmap, info.msgtql];
    };
    expect(totals()).toEqual([0, 0]);
    root.msgsndSync(a, 1, pattern(10));
    root.msgsndSync(a, 1, pattern(20));
    root.msgsndSync(b, 1, pattern(30));
    expect(totals()).toEqual([3, 60]);
    root.msgrcvSync(a, 100, 0);
    expect(totals()).toEqual([2, 50]);
    root.msgrcvSync(b, 100, 0);
    const got = root.msgrcv(b, 100, 0);
    root.msgsndSync(b, 1, pattern(40));
    await got;
    expect(totals()).toEqual([1, 20]);
    root.msgsndSync(b, 1, pattern(5));
    root.msgctl(a, 0);
    expect(totals()).toEqual([1, 5]);
    cleanUp(k, root, b);
    expect(totals()).toEqual([0, 0]);
  });
});
