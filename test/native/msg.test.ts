/**
 * The native backend's message-queue calls on the real kernel: round trips,
 * type selection, C longs as bigints, msgrcvInto, every msgctl command and
 * the errors by code. Blocking and cancellation are in wait.test.ts.
 */

import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  IPC_CREAT, IPC_EXCL, IPC_INFO, IPC_NOWAIT, IPC_PRIVATE, IPC_RMID, IPC_SET, IPC_STAT,
  MSG_COPY, MSG_EXCEPT, MSG_INFO, MSG_NOERROR, MSG_STAT, MSG_STAT_ANY,
} from '../../host/constants.js';
import { IpcError } from '../../host/errors.js';
import {
  bytes, ipcsQueues, leakedSince, native, queue, randomKey, rejectsWith, self, throwsWith, titled, track,
} from './helpers.js';

/** CapEff holds CAP_SYS_RESOURCE (24): msg_qbytes above msgmnb is then allowed. */
function hasSysResource(): boolean {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapEff:'));
  return line !== undefined && ((BigInt(`0x${line.split(/\s+/)[1]}`) >> 24n) & 1n) === 1n;
}

describe.skipIf(native.unavailable !== undefined)(titled('native message queues'), () => {
  let before: Map<number, unknown>;
  beforeAll(() => {
    before = ipcsQueues();
  });

  it('msgget creates, finds and refuses as Linux does', () => {
    const p = self();
    const k = randomKey();
    throwsWith(() => p.msgget(k, 0), 'ENOENT');
    const id = track(p.msgget(k, IPC_CREAT | IPC_EXCL | 0o640));
    try {
      throwsWith(() => p.msgget(k, IPC_CREAT | IPC_EXCL | 0o600), 'EEXIST');
      expect(p.msgget(k, 0)).toBe(id);
      expect(p.msgget(k, IPC_CREAT)).toBe(id);
      expect(p.msgctl(id, IPC_STAT).msg_perm).toMatchObject({ key: k, mode: 0o640, uid: process.getuid!(), cuid: process.getuid!() });
      // IPC_PRIVATE always makes a new queue.
      using a = queue();
      using b = queue();
      expect(a.id).not.toBe(b.id);
    } finally {
      p.msgctl(id, IPC_RMID);
    }
    throwsWith(() => p.msgget(k, 0), 'ENOENT');
  });

  it('sends and receives round trips, empty texts included, in order', async () => {
    const p = self();
    using q = queue();
    await p.msgsnd(q.id, 1, bytes('one'));
    p.msgsndSync(q.id, 2, new Uint8Array(0));
    p.msgsndSync(q.id, 3, new Uint8Array(8192).fill(7));
    expect(await p.msgrcv(q.id, 100, 0)).toEqual({ mtype: 1, data: bytes('one') });
    expect(p.msgrcvSync(q.id, 100, 0)).toEqual({ mtype: 2, data: new Uint8Array(0) });
    const big = p.msgrcvSync(q.id, 8192, 0);
    expect(big.mtype).toBe(3);
    expect(big.data).toEqual(new Uint8Array(8192).fill(7));
    // The received bytes are a fresh copy, not a view of anything reused.
    expect(big.data.buffer.byteLength).toBe(8192);
    throwsWith(() => p.msgrcvSync(q.id, 100, 0), 'ENOMSG');
    await rejectsWith(p.msgrcv(q.id, 100, 0, IPC_NOWAIT), 'ENOMSG');
  });

  it('selects by type: 0, > 0, MSG_EXCEPT, and < 0 (lowest type <= |msgtyp|, |msgtyp| itself included)', () => {
    const p = self();
    using q = queue();
    for (const t of [4, 3, 2, 1, 5, 3]) p.msgsndSync(q.id, t, bytes(`t${t}`));
    expect(p.msgrcvSync(q.id, 10, 3).data).toEqual(bytes('t3'));
    expect(p.msgrcvSync(q.id, 10, -2).mtype).toBe(1);
    expect(p.msgrcvSync(q.id, 10, 4, MSG_EXCEPT).mtype).toBe(2);
    expect(p.msgrcvSync(q.id, 10, 0).mtype).toBe(4);
    expect(p.msgrcvSync(q.id, 10, -5).mtype).toBe(3);
    // MSG_EXCEPT is ignored with a negative type (ipc/msg.c: convert_mode()).
    throwsWith(() => p.msgrcvSync(q.id, 10, -1, MSG_EXCEPT), 'ENOMSG');
    expect(p.msgrcvSync(q.id, 10, -5).mtype).toBe(5);
  });

  it('E2BIG leaves a long message queued; MSG_NOERROR cuts it and removes it whole', () => {
    const p = self();
    using q = queue();
    p.msgsndSync(q.id, 1, bytes('abcdef'));
    throwsWith(() => p.msgrcvSync(q.id, 3, 0), 'E2BIG');
    expect(p.msgctl(q.id, IPC_STAT).msg_cbytes).toBe(6);
    expect(p.msgrcvSync(q.id, 3, 0, MSG_NOERROR).data).toEqual(bytes('abc'));
    expect(p.msgctl(q.id, IPC_STAT)).toMatchObject({ msg_qnum: 0, msg_cbytes: 0 });
  });

  it('carries C longs: numbers while safe, bigints beyond 2^53, in mtype and msgtyp', async () => {
    const p = self();
    using q = queue();
    const max = (1n << 63n) - 1n;
    p.msgsndSync(q.id, max, bytes('max'));
    p.msgsndSync(q.id, 2n ** 53n, bytes('2^53'));
    p.msgsndSync(q.id, Number.MAX_SAFE_INTEGER, bytes('safe'));
    p.msgsndSync(q.id, 5n, bytes('five'));
    // A bigint argument that is small still answers a number.
    expect(p.msgrcvSync(q.id, 10, 5n)).toEqual({ mtype: 5, data: bytes('five') });
    expect(p.msgrcvSync(q.id, 10, 0).mtype).toBe(max);
    expect((await p.msgrcv(q.id, 10, 2n ** 53n)).mtype).toBe(2n ** 53n);
    // LONG_MIN is taken as LONG_MAX's negation would be: the lowest type of all.
    expect(p.msgrcvSync(q.id, 10, -(1n << 63n)).mtype).toBe(Number.MAX_SAFE_INTEGER);
    p.msgsndSync(q.id, max, bytes('again'));
    const into = p.msgrcvInto(q.id, new Uint8Array(8), -max);
    expect(into).toEqual({ mtype: max, length: 5 });
    expect(() => p.msgsndSync(q.id, 1n << 63n, bytes('x'))).toThrow(RangeError);
    expect(() => p.msgsndSync(q.id, 1.5, bytes('x'))).toThrow(TypeError);
    expect(() => p.msgrcvSync(q.id, 10, 2 ** 53)).toThrow(TypeError);
  });

  it('msgrcvInto writes into the caller\'s buffer and leaves the bytes past the text alone', () => {
    const p = self();
    using q = queue();
    const buf = new Uint8Array(10).fill(0xee);
    p.msgsndSync(q.id, 9, bytes('hey'));
    expect(p.msgrcvInto(q.id, buf, 0)).toEqual({ mtype: 9, length: 3 });
    expect([...buf]).toEqual([104, 101, 121, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee]);
    // A view at an offset: only its own bytes change.
    const backing = new Uint8Array(16).fill(1);
    p.msgsndSync(q.id, 2, bytes('abcdefgh'));
    expect(p.msgrcvInto(q.id, backing.subarray(4, 8), 0, MSG_NOERROR)).toEqual({ mtype: 2, length: 4 });
    expect([...backing]).toEqual([1, 1, 1, 1, 97, 98, 99, 100, 1, 1, 1, 1, 1, 1, 1, 1]);
    p.msgsndSync(q.id, 2, bytes('abcdefgh'));
    throwsWith(() => p.msgrcvInto(q.id, new Uint8Array(4), 0), 'E2BIG');
    throwsWith(() => p.msgrcvInto(q.id, new Uint8Array(4), 3), 'ENOMSG');
    expect(p.msgrcvInto(q.id, Buffer.alloc(8), 0).length).toBe(8);
  });

  it('MSG_COPY reads by index and leaves the queue as it was', async () => {
    const p = self();
    using q = queue();
    p.msgsndSync(q.id, 1, bytes('first'));
    p.msgsndSync(q.id, 2, bytes('second'));
    const st = p.msgctl(q.id, IPC_STAT);
    expect(p.msgrcvSync(q.id, 10, 1, MSG_COPY)).toEqual({ mtype: 2, data: bytes('second') });
    expect(await p.msgrcv(q.id, 10, 0, MSG_COPY | IPC_NOWAIT)).toEqual({ mtype: 1, data: bytes('first') });
    expect(p.msgctl(q.id, IPC_STAT)).toEqual(st);
    throwsWith(() => p.msgrcvSync(q.id, 10, 2, MSG_COPY), 'ENOMSG');
    throwsWith(() => p.msgrcvSync(q.id, 3, 0, MSG_COPY), 'E2BIG');
    throwsWith(() => p.msgrcvSync(q.id, 3, 0, MSG_COPY | MSG_NOERROR), 'EINVAL');
    throwsWith(() => p.msgrcvSync(q.id, 10, 1, MSG_COPY | MSG_EXCEPT), 'EINVAL');
    // Without IPC_NOWAIT MSG_COPY is EINVAL: the async form must not add it.
    await rejectsWith(p.msgrcv(q.id, 10, 0, MSG_COPY), 'EINVAL');
  });

  it('answers bad arguments with Linux\'s errno, and wrong JavaScript types with TypeError/RangeError', async () => {
    const p = self();
    using q = queue();
    throwsWith(() => p.msgsndSync(q.id, 0, bytes('x')), 'EINVAL');
    throwsWith(() => p.msgsndSync(q.id, -3, bytes('x')), 'EINVAL');
    throwsWith(() => p.msgsndSync(q.id, 1, new Uint8Array(8193)), 'EINVAL');
    throwsWith(() => p.msgsndSync(-1, 1, bytes('x')), 'EINVAL');
    throwsWith(() => p.msgrcvSync(q.id, -1, 0), 'EINVAL');
    throwsWith(() => p.msgrcvSync(-1, 1, 0), 'EINVAL');
    await rejectsWith(p.msgsnd(q.id, 0, bytes('x')), 'EINVAL');
    await rejectsWith(p.msgrcv(q.id, -1, 0), 'EINVAL');
    const e = throwsWith(() => p.msgsndSync(q.id, 0, bytes('x')), 'EINVAL');
    expect(e).toMatchObject({ errno: 22, syscall: 'msgsnd' });
    expect(() => p.msgget('1' as unknown as number, 0)).toThrow(TypeError);
    expect(() => p.msgget(2 ** 31, 0)).toThrow(RangeError);
    expect(() => p.msgsndSync(q.id, 1, 'text' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => p.msgrcvSync(q.id, 1.5, 0)).toThrow(TypeError);
    await expect(p.msgrcv(q.id, 10, 0, 0, { timeout: -1 })).rejects.toThrow(RangeError);
    await expect(p.msgsnd(q.id, 1, 7 as unknown as Uint8Array)).rejects.toThrow(TypeError);
    // A detached buffer cannot be given.
    const gone = new Uint8Array(4);
    structuredClone(gone.buffer, { transfer: [gone.buffer] });
    expect(() => p.msgsndSync(q.id, 1, gone)).toThrow(TypeError);
    expect(() => p.msgrcvInto(q.id, gone, 0)).toThrow(TypeError);
    await expect(p.msgsnd(q.id, 1, gone)).rejects.toThrow(TypeError);
    // An empty view that is not detached is a zero-length text.
    p.msgsndSync(q.id, 4, new Uint8Array(0));
    expect(p.msgrcvInto(q.id, new Uint8Array(0), 0)).toEqual({ mtype: 4, length: 0 });
    await expect(p.msgrcv(q.id, 10, 0, 0, { ref: 1 as unknown as boolean })).rejects.toThrow(TypeError);
  });

  it('IPC_STAT reports creation, sends and receives', () => {
    const p = self();
    using q = queue(p, 0o620);
    const t0 = Math.floor(Date.now() / 1000);
    const st = p.msgctl(q.id, IPC_STAT);
    expect(st).toMatchObject({
      msg_perm: { key: 0, mode: 0o620, uid: process.getuid!(), gid: process.getgid!(), cuid: process.getuid!(), cgid: process.getgid!() },
      msg_stime: 0, msg_rtime: 0, msg_cbytes: 0, msg_qnum: 0, msg_qbytes: 16384, msg_lspid: 0, msg_lrpid: 0,
    });
    expect(Math.abs(st.msg_ctime - t0)).toBeLessThanOrEqual(2);
    p.msgsndSync(q.id, 1, bytes('12345'));
    expect(p.msgctl(q.id, IPC_STAT)).toMatchObject({ msg_qnum: 1, msg_cbytes: 5, msg_lspid: process.pid, msg_lrpid: 0 });
    p.msgrcvSync(q.id, 10, 0);
    const after = p.msgctl(q.id, IPC_STAT);
    expect(after).toMatchObject({ msg_qnum: 0, msg_cbytes: 0, msg_lrpid: process.pid });
    expect(after.msg_stime).toBeGreaterThan(0);
    expect(after.msg_rtime).toBeGreaterThan(0);
  });

  it('IPC_SET changes what it is given and keeps the rest; a full queue then answers EAGAIN', async () => {
    const p = self();
    using q = queue();
    expect(p.msgctl(q.id, IPC_SET, { mode: 0o1644 })).toBe(0);
    expect(p.msgctl(q.id, IPC_STAT)).toMatchObject({ msg_perm: { mode: 0o644, uid: process.getuid!() }, msg_qbytes: 16384 });
    p.msgctl(q.id, IPC_SET, { msg_qbytes: 10 });
    expect(p.msgctl(q.id, IPC_STAT)).toMatchObject({ msg_perm: { mode: 0o644 }, msg_qbytes: 10 });
    p.msgctl(q.id, IPC_SET, { uid: 0, gid: 0, mode: 0o600, msg_qbytes: 8 });
    expect(p.msgctl(q.id, IPC_STAT)).toMatchObject({ msg_perm: { mode: 0o600 }, msg_qbytes: 8 });
    p.msgsndSync(q.id, 1, bytes('12345678'));
    throwsWith(() => p.msgsndSync(q.id, 1, bytes('x')), 'EAGAIN');
    await rejectsWith(p.msgsnd(q.id, 1, bytes('x'), IPC_NOWAIT), 'EAGAIN');
    // Past msgmnb needs CAP_SYS_RESOURCE (ipc/msg.c: msgctl_down()).
    if (hasSysResource()) expect(p.msgctl(q.id, IPC_SET, { msg_qbytes: 16385 })).toBe(0);
    else throwsWith(() => p.msgctl(q.id, IPC_SET, { msg_qbytes: 16385 }), 'EPERM');
    expect(() => p.msgctl(q.id, IPC_SET, undefined as unknown as {})).toThrow(TypeError);
    expect(() => p.msgctl(q.id, IPC_SET, { mode: 'rw' as unknown as number })).toThrow(TypeError);
    // uid_t and gid_t are unsigned: (uid_t)-1 reaches the kernel, which refuses it (ipc/util.c: ipc_update_perm, uid_valid).
    throwsWith(() => p.msgctl(q.id, IPC_SET, { uid: -1 }), 'EINVAL');
    throwsWith(() => p.msgctl(q.id, IPC_SET, { uid: 4294967295 }), 'EINVAL');
    throwsWith(() => p.msgctl(q.id, IPC_SET, { gid: -1 }), 'EINVAL');
    expect(() => p.msgctl(q.id, IPC_SET, { uid: 2 ** 32 })).toThrow(RangeError);
    expect(p.msgctl(q.id, IPC_STAT).msg_perm).toMatchObject({ uid: 0, gid: 0 });
    throwsWith(() => p.msgctl(-1, IPC_SET, { mode: 0o600 }), 'EINVAL');
  });

  it('IPC_INFO and MSG_INFO give the limits and usage; MSG_STAT and MSG_STAT_ANY take an index and answer the id', () => {
    const p = self();
    using q = queue();
    p.msgsndSync(q.id, 1, bytes('abc'));
    const info = p.msgctl(0, IPC_INFO);
    expect(info).toMatchObject({ msgmax: 8192, msgmnb: 16384, msgmni: 32000, msgssz: 16, msgseg: 0xffff });
    const index = q.id & 0x7fff;
    expect(info.result).toBeGreaterThanOrEqual(index);
    const usage = p.msgctl(0, MSG_INFO);
    expect(usage.result).toBeGreaterThanOrEqual(index);
    expect(usage.msgpool).toBeGreaterThanOrEqual(1);
    expect(usage.msgmap).toBeGreaterThanOrEqual(1);
    expect(usage.msgtql).toBeGreaterThanOrEqual(3);
    for (const cmd of [MSG_STAT, MSG_STAT_ANY] as const) {
      const st = p.msgctl(index, cmd);
      expect(st.result).toBe(q.id);
      expect(st).toMatchObject({ msg_qnum: 1, msg_cbytes: 3, msg_lspid: process.pid });
      // Linux keeps only the index bits of what it is given.
      expect(p.msgctl(q.id, cmd).result).toBe(q.id);
    }
    throwsWith(() => p.msgctl(-1, IPC_INFO), 'EINVAL');
  });

  it('IPC_RMID removes; the id is then EINVAL for every call; unknown commands are EINVAL', async () => {
    const p = self();
    const id = track(p.msgget(IPC_PRIVATE, IPC_CREAT | 0o600));
    throwsWith(() => p.msgctl(id, 99), 'EINVAL');
    throwsWith(() => p.msgctl(id, -1), 'EINVAL');
    expect(p.msgctl(id, IPC_RMID)).toBe(0);
    throwsWith(() => p.msgctl(id, IPC_RMID), 'EINVAL');
    throwsWith(() => p.msgctl(id, IPC_STAT), 'EINVAL');
    throwsWith(() => p.msgsndSync(id, 1, bytes('x')), 'EINVAL');
    throwsWith(() => p.msgrcvInto(id, new Uint8Array(1), 0), 'EINVAL');
    await rejectsWith(p.msgrcv(id, 1, 0), 'EINVAL');
    await rejectsWith(p.msgsnd(id, 1, bytes('x')), 'EINVAL');
  });

  it('is this process: backend native, pid process.pid, one object', async () => {
    const { openNative } = await import('../../host/native/index.js');
    const kernel = openNative();
    expect(kernel.backend).toBe('native');
    expect(kernel.self()).toBe(self());
    expect(self()).toMatchObject({ backend: 'native', pid: process.pid });
    expect(IpcError).toBeDefined();
  });

  it('leaves ipcs -q as it found it (no queue of this file left behind)', () => {
    expect(leakedSince(before)).toEqual([]);
  });
});
