/**
 * msgrcv's selection (ipc/msg.c: convert_mode, testmsg, find_msg) over the
 * core's indexed store (assembly/msg/store.ts): each rule, the known traps,
 * and a seeded random run against a plain model of the kernel's list walk.
 */

import { describe, expect, it } from 'vitest';
import type { MType, SimProcess } from '../../host/api.js';
import { IPC_NOWAIT, MSG_COPY, MSG_EXCEPT, MSG_NOERROR } from '../../host/constants.js';
import { BUILDS, cleanUp, expectErrno, kernel, pending, queue, stat, str, text, turn } from './helpers.js';

const LONG_MIN = -(1n << 63n);
const LONG_MAX = (1n << 63n) - 1n;

function sendAll(p: SimProcess, q: number, messages: [MType, string][]): void {
  for (const [t, s] of messages) p.msgsndSync(q, t, text(s));
}

function receiveAll(p: SimProcess, q: number, msgtyp: MType, flags = 0): string[] {
  const got: string[] = [];
  for (;;) {
    try {
      const m = p.msgrcvSync(q, 64, msgtyp, flags);
      got.push(`${m.mtype}:${str(m.data)}`);
    } catch {
      return got;
    }
  }
}

describe.each(BUILDS)('msgrcv selection (%s build)', (build) => {
  it('msgtyp 0 takes the oldest message whatever its type', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    sendAll(root, q, [[5, 'a'], [1, 'b'], [5, 'c'], [3, 'd']]);
    expect(receiveAll(root, q, 0)).toEqual(['5:a', '1:b', '5:c', '3:d']);
    cleanUp(k, root, q);
  });

  it('msgtyp > 0 takes the oldest of exactly that type; the others keep their order', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    sendAll(root, q, [[2, 'a'], [1, 'b'], [2, 'c'], [1, 'd'], [3, 'e']]);
    expect(receiveAll(root, q, 1)).toEqual(['1:b', '1:d']);
    expectErrno(() => root.msgrcvSync(q, 64, 9), 'ENOMSG');
    expect(receiveAll(root, q, 0)).toEqual(['2:a', '2:c', '3:e']);
    cleanUp(k, root, q);
  });

  it('msgtyp < 0 takes the lowest type ≤ |msgtyp|, oldest first, and a type equal to |msgtyp| counts', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    sendAll(root, q, [[5, 'only']]);
    expect(root.msgrcvSync(q, 64, -5).mtype).toBe(5);
    sendAll(root, q, [[4, 'a'], [3, 'b'], [2, 'c'], [1, 'd']]);
    expect(root.msgrcvSync(q, 64, -2).mtype).toBe(1); // the lowest, not the highest ≤ 2
    expect(root.msgrcvSync(q, 64, -2).mtype).toBe(2);
    expectErrno(() => root.msgrcvSync(q, 64, -2), 'ENOMSG');
    sendAll(root, q, [[3, 'e']]);
    expect(receiveAll(root, q, -3)).toEqual(['3:b', '3:e']);
    expect(receiveAll(root, q, -100)).toEqual(['4:a']);
    cleanUp(k, root, q);
  });

  it('msgtyp LONG_MIN is taken as LONG_MAX (every type); types beyond 2^53 travel as bigints', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    sendAll(root, q, [[LONG_MAX, 'max'], [2n ** 53n + 1n, 'big'], [7, 'seven']]);
    const first = root.msgrcvSync(q, 64, LONG_MIN);
    expect(first.mtype).toBe(7);
    expect(root.msgrcvSync(q, 64, -(2n ** 60n)).mtype).toBe(2n ** 53n + 1n);
    expect(root.msgrcvSync(q, 64, LONG_MAX).mtype).toBe(LONG_MAX);
    // a type that is a safe integer comes back as a number even when sent as a bigint
    root.msgsndSync(q, 2n ** 53n - 1n, text('safe'));
    expect(root.msgrcvSync(q, 64, 0).mtype).toBe(2 ** 53 - 1);
    cleanUp(k, root, q);
  });

  it('MSG_EXCEPT with msgtyp > 0 takes the oldest of another type, and means nothing for msgtyp ≤ 0', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    sendAll(root, q, [[1, 'a'], [1, 'b'], [2, 'c'], [1, 'd'], [3, 'e']]);
    expect(root.msgrcvSync(q, 64, 1, MSG_EXCEPT).mtype).toBe(2);
    expect(root.msgrcvSync(q, 64, 1, MSG_EXCEPT).mtype).toBe(3);
    expectErrno(() => root.msgrcvSync(q, 64, 1, MSG_EXCEPT), 'ENOMSG');
    expect(str(root.msgrcvSync(q, 64, 0, MSG_EXCEPT).data)).toBe('a');
    // only a type-2 message queued: -1 with MSG_EXCEPT is still "lowest type ≤ 1"
    const q2 = queue(root);
    sendAll(root, q2, [[2, 'two']]);
    expectErrno(() => root.msgrcvSync(q2, 64, -1, MSG_EXCEPT), 'ENOMSG');
    expect(root.msgrcvSync(q2, 64, -2, MSG_EXCEPT).mtype).toBe(2);
    cleanUp(k, root, q, q2);
  });

  it('ENOMSG with IPC_NOWAIT whether the queue is empty or only holds other types', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    expectErrno(() => root.msgrcvSync(q, 64, 0), 'ENOMSG');
    await expect(root.msgrcv(q, 64, 0, IPC_NOWAIT)).rejects.toMatchObject({ code: 'ENOMSG' });
    sendAll(root, q, [[4, 'x']]);
    expectErrno(() => root.msgrcvSync(q, 64, 3), 'ENOMSG');
    expectErrno(() => root.msgrcvSync(q, 64, -3), 'ENOMSG');
    expect(stat(root, q).msg_qnum).toBe(1);
    cleanUp(k, root, q);
  });

  it('a sleeping receiver for type T ignores other types, which stay queued, and wakes for T', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    const waiting = root.msgrcv(q, 64, 2);
    sendAll(root, q, [[1, 'one'], [3, 'three']]);
    expect(await pending(waiting)).toBe(true);
    expect(stat(root, q).msg_qnum).toBe(2);
    root.msgsndSync(q, 2, text('two'));
    expect(await waiting).toEqual({ mtype: 2, data: text('two') });
    expect(receiveAll(root, q, 0)).toEqual(['1:one', '3:three']);
    cleanUp(k, root, q);
  });

  it.each([
    ['a few types', 12, 1],
    ['many scattered types', 400, 1_000_003],
  ])('matches a plain model of find_msg over a seeded random mix of sends and receives (%s)', async (_name, types, spread) => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    root.msgctl(q, 1, { msg_qbytes: 16384 });
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    // the model: the kernel's list, walked as find_msg walks it
    const model: { t: number; n: number }[] = [];
    const find = (msgtyp: number, flags: number): number => {
      if (flags & MSG_COPY) return msgtyp >= 0 && msgtyp < model.length ? msgtyp : -1;
      if (msgtyp === 0) return model.length > 0 ? 0 : -1;
      if (msgtyp < 0) {
        let best = -1;
        for (let i = 0; i < model.length; i++) if (model[i]!.t <= -msgtyp && (best < 0 || model[i]!.t < model[best]!.t)) best = i;
        return best;
      }
      const except = (flags & MSG_EXCEPT) !== 0;
      return model.findIndex((m) => (except ? m.t !== msgtyp : m.t === msgtyp));
    };
    let serial = 0;
    for (let step = 0; step < 4000; step++) {
      if (model.length < 300 && rand(3) > 0) {
        const t = 1 + rand(types) * spread;
        const n = serial++;
        root.msgsndSync(q, t, new Uint8Array([n & 0xff, (n >> 8) & 0xff]));
        model.push({ t, n });
        continue;
      }
      const kind = rand(5);
      const msgtyp = kind === 0 ? 0 : kind === 1 ? -(1 + rand(types) * spread) : kind === 4 ? rand(model.length + 2) : 1 + rand(types) * spread;
      const flags = kind === 3 ? MSG_EXCEPT : kind === 4 ? MSG_COPY : 0;
      const at = find(msgtyp, flags);
      if (at < 0) {
        expectErrno(() => root.msgrcvSync(q, 8, msgtyp, flags), 'ENOMSG');
        continue;
      }
      const m = root.msgrcvSync(q, 8, msgtyp, flags);
      const want = model[at]!;
      expect([m.mtype, m.data[0]! | (m.data[1]! << 8)]).toEqual([want.t, want.n & 0xffff]);
      if (!(flags & MSG_COPY)) model.splice(at, 1);
    }
    expect(stat(root, q).msg_qnum).toBe(model.length);
    expect(receiveAll(root, q, 0).length).toBe(model.length);
    cleanUp(k, root, q);
  });

  it('a received message is copied whole or cut by MSG_NOERROR; the text is a fresh copy each time', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    const big = new Uint8Array(5000).map((_, i) => i * 7);
    root.msgsndSync(q, 1, big);
    root.msgsndSync(q, 1, big);
    const whole = root.msgrcvSync(q, 8192, 0);
    expect(whole.data).toEqual(big);
    const cut = root.msgrcvSync(q, 100, 0, MSG_NOERROR);
    expect(cut.data).toEqual(big.subarray(0, 100));
    whole.data[0] = 255;
    expect(cut.data[0]).toBe(0);
    await turn();
    cleanUp(k, root, q);
  });
});
