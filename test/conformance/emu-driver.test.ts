import { describe, expect, it } from 'vitest';
import type { CallHandle } from '../../host/conformance/driver.js';
import { EmuDriver } from '../../host/conformance/emu-driver.js';
import { UnsupportedOp } from '../../host/conformance/ops.js';
import { F_GETFL, F_SETFL, IPC_CREAT, IPC_NOWAIT, IPC_PRIVATE, IPC_STAT, MSG_COPY, O_NONBLOCK, O_RDONLY } from '../../host/constants.js';
import { ERRNO } from '../../host/errors.js';

const opts = { settleMs: 50, keyBase: 0x40000, mqPrefix: '/t.', dir: '/tmp' };
const bytes = (s: string) => new TextEncoder().encode(s);

async function started(actors: Record<string, { uid?: number; gid?: number }>, rootCaps?: bigint) {
  const d = new EmuDriver(rootCaps === undefined ? {} : { rootCaps });
  await d.start(actors, opts);
  return d;
}

async function outcome(d: EmuDriver, h: CallHandle) {
  await d.settle();
  return h.outcome;
}

describe('EmuDriver', () => {
  it('answers the msg_copy probe from a kernel model, and nothing else', async () => {
    const d = new EmuDriver();
    expect(await d.probe('msg_copy')).toBe(true);
    expect(await d.probe('cap_sys_admin')).toBeUndefined();
  });

  it('refuses operations runOp lacks at call time', async () => {
    const d = await started({ A: {} });
    expect(() => d.call('A', 'shmget', [0, 4096, IPC_CREAT | 0o600])).toThrow(UnsupportedOp);
    await d.close();
  });

  it('settles exactly: a blocked call is pending after settle(); interrupt makes it EINTR; a send wakes another', async () => {
    const d = await started({ A: {}, B: {} });
    const q = (await outcome(d, d.call('A', 'msgget', [IPC_PRIVATE, IPC_CREAT | 0o600]))) as { ok: true; value: number };
    const r1 = d.call('B', 'msgrcv', [q.value, 64, 0, 0]);
    const r2 = d.call('B', 'msgrcv', [q.value, 64, 0, 0]);
    expect(await outcome(d, r1)).toBeUndefined();
    await d.interrupt(r1, true);
    expect(await outcome(d, r1)).toEqual({ ok: false, errno: ERRNO.EINTR });
    expect(await outcome(d, d.call('A', 'msgsnd', [q.value, 3, bytes('x'), 0]))).toEqual({ ok: true, value: 0 });
    expect(await outcome(d, r2)).toEqual({ ok: true, value: { mtype: 3, data: bytes('x') } });
    await d.close();
  });

  it('abandons the blocked calls of an actor that exits, and forks with the parent credentials', async () => {
    const d = await started({ A: {}, B: { uid: 1000 } });
    const q = (await outcome(d, d.call('A', 'msgget', [IPC_PRIVATE, IPC_CREAT | 0o666]))) as { ok: true; value: number };
    await d.fork('B', 'C');
    expect(d.pid('C')).not.toBe(d.pid('B'));
    const r = d.call('B', 'msgrcv', [q.value, 64, 0, 0]);
    await d.exit('B');
    await outcome(d, d.call('C', 'msgsnd', [q.value, 1, bytes('y'), 0]));
    expect(await outcome(d, r)).toBeUndefined();
    const stat = (await outcome(d, d.call('A', 'msgctl', [q.value, IPC_STAT]))) as { ok: true; value: { msg_qnum: number; msg_lspid: number } };
    expect(stat.value).toMatchObject({ msg_qnum: 1, msg_lspid: d.pid('C') });
    const own = (await outcome(d, d.call('C', 'msgget', [IPC_PRIVATE, IPC_CREAT | 0o600]))) as { ok: true; value: number };
    const perm = (await outcome(d, d.call('A', 'msgctl', [own.value, IPC_STAT]))) as { ok: true; value: { msg_perm: { uid: number; gid: number } } };
    expect(perm.value.msg_perm).toMatchObject({ uid: 1000, gid: 1000 });
    await d.close();
  });

  it('interrupt with restart: a pipe read that has moved nothing sleeps on; without, EINTR', async () => {
    const d = await started({ A: {} });
    const [r, w] = ((await outcome(d, d.call('A', 'pipe', [0]))) as { ok: true; value: [number, number] }).value;
    const rd = d.call('A', 'read', [r, 16]);
    expect(await outcome(d, rd)).toBeUndefined();
    await d.interrupt(rd, true);
    expect(await outcome(d, rd)).toBeUndefined();
    expect(await outcome(d, d.call('A', 'write', [w, bytes('hi')]))).toEqual({ ok: true, value: 2 });
    expect(await outcome(d, rd)).toEqual({ ok: true, value: bytes('hi') });
    const rd2 = d.call('A', 'read', [r, 16]);
    await d.settle();
    await d.interrupt(rd2, false);
    expect(await outcome(d, rd2)).toEqual({ ok: false, errno: ERRNO.EINTR });
    await d.close();
  });

  it("fork gives the child the parent's descriptors as shared open file descriptions", async () => {
    const d = await started({ A: {} });
    const [r, w] = ((await outcome(d, d.call('A', 'pipe', [0]))) as { ok: true; value: [number, number] }).value;
    await d.fork('A', 'B');
    expect(await outcome(d, d.call('B', 'fcntl', [r, F_SETFL, O_NONBLOCK]))).toEqual({ ok: true, value: 0 });
    expect(await outcome(d, d.call('A', 'fcntl', [r, F_GETFL]))).toEqual({ ok: true, value: O_RDONLY | O_NONBLOCK });
    expect(await outcome(d, d.call('A', 'close', [w]))).toEqual({ ok: true, value: 0 });
    expect(await outcome(d, d.call('B', 'write', [w, bytes('x')]))).toEqual({ ok: true, value: 1 });
    expect(await outcome(d, d.call('A', 'read', [r, 16]))).toEqual({ ok: true, value: bytes('x') });
    await d.exit('B');
    expect(await outcome(d, d.call('A', 'read', [r, 16]))).toEqual({ ok: true, value: new Uint8Array() });
    await d.close();
  });

  it("gives root actors the capabilities it is told (by default this machine's root's)", async () => {
    for (const [caps, want] of [[0n, { ok: false, errno: ERRNO.EACCES }], [1n << 15n, { ok: false, errno: ERRNO.ENOMSG }]] as const) {
      const d = await started({ A: {}, B: { uid: 1000 } }, caps);
      const q = (await outcome(d, d.call('B', 'msgget', [IPC_PRIVATE, IPC_CREAT]))) as { ok: true; value: number };
      // a mode-0 queue of another uid: only CAP_IPC_OWNER (15) lets root read it
      expect(await outcome(d, d.call('A', 'msgrcv', [q.value, 64, 0, IPC_NOWAIT | MSG_COPY]))).toEqual(want);
      await d.close();
    }
  });
});
