/**
 * kernel.sem on the emulator (semmsl, semmns, semopm, semmni), set per
 * kernel with openEmulator({ limits }) or setLimits(): what each bounds,
 * that IPC_INFO reports them, what setLimits refuses, and a set too large
 * for any wasm32 instance (ENOMEM, nothing trapped).
 */

import { describe, expect, it } from 'vitest';
import type { SemBuf } from '../../host/api.js';
import { GETALL, GETVAL, IPC_CREAT, IPC_INFO, IPC_PRIVATE, IPC_RMID, SEM_INFO } from '../../host/constants.js';
import { emulatorUsage, openEmulator } from '../../host/emu/index.js';
import { BUILDS, expectErrno, expectRejects, kernel, thrown } from './helpers.js';

describe.each(BUILDS)('semaphore limits (%s build)', (build) => {
  it('semmni bounds the sets (ENOSPC), and a removed set makes room', async () => {
    const { k, root } = await kernel(build, { limits: { semmni: 2 } });
    const a = root.semget(IPC_PRIVATE, 1, IPC_CREAT | 0o600);
    const b = root.semget(IPC_PRIVATE, 1, IPC_CREAT | 0o600);
    expectErrno(() => root.semget(IPC_PRIVATE, 1, IPC_CREAT | 0o600), 'ENOSPC');
    expectErrno(() => root.semget(31, 1, IPC_CREAT | 0o600), 'ENOSPC');
    expect(root.semctl(0, 0, IPC_INFO).semmni).toBe(2);
    root.semctl(a, 0, IPC_RMID);
    const c = root.semget(31, 1, IPC_CREAT | 0o600);
    for (const s of [b, c]) root.semctl(s, 0, IPC_RMID);
    expect(emulatorUsage(k).sleeping).toBe(0);
  });

  it('semmns bounds the semaphores of all sets together (ENOSPC, checked before semmni); SEM_INFO counts them', async () => {
    const { k, root } = await kernel(build);
    k.setLimits({ semmns: 5, semmni: 1 });
    const a = root.semget(IPC_PRIVATE, 3, IPC_CREAT | 0o600);
    expectErrno(() => root.semget(IPC_PRIVATE, 3, IPC_CREAT | 0o600), 'ENOSPC');
    k.setLimits({ semmni: 10 });
    expectErrno(() => root.semget(IPC_PRIVATE, 3, IPC_CREAT | 0o600), 'ENOSPC');
    const b = root.semget(IPC_PRIVATE, 2, IPC_CREAT | 0o600);
    expect(root.semctl(0, 0, SEM_INFO)).toMatchObject({ semusz: 2, semaem: 5, semmns: 5 });
    root.semctl(a, 0, IPC_RMID);
    const c = root.semget(IPC_PRIVATE, 3, IPC_CREAT | 0o600);
    for (const s of [b, c]) root.semctl(s, 0, IPC_RMID);
    expect(root.semctl(0, 0, SEM_INFO)).toMatchObject({ semusz: 0, semaem: 0 });
  });

  it('semmsl bounds nsems (EINVAL, before the key is looked up)', async () => {
    const { root } = await kernel(build, { limits: { semmsl: 4 } });
    const s = root.semget(32, 4, IPC_CREAT | 0o600);
    expectErrno(() => root.semget(IPC_PRIVATE, 5, IPC_CREAT | 0o600), 'EINVAL');
    expectErrno(() => root.semget(32, 5, 0), 'EINVAL');
    expectErrno(() => root.semget(33, 5, 0), 'EINVAL');
    expect(root.semctl(0, 0, IPC_INFO).semmsl).toBe(4);
    root.semctl(s, 0, IPC_RMID);
  });

  it('semopm bounds the ops of one call (E2BIG first), 0 included; a large semopm lets calls past the staging buffer through', async () => {
    const { k, root } = await kernel(build, { limits: { semopm: 2 } });
    const s = root.semget(IPC_PRIVATE, 1, IPC_CREAT | 0o600);
    root.semopSync(s, [[0, 1], [0, 1]]);
    expectErrno(() => root.semopSync(s, [[0, 1], [0, 1], [0, 1]]), 'E2BIG');
    expectErrno(() => root.semopSync(-1, [[0, 1], [0, 1], [0, 1]]), 'E2BIG');
    k.setLimits({ semopm: 0 });
    expectErrno(() => root.semopSync(s, [[0, 1]]), 'E2BIG');
    await expectRejects(root.semop(s, [[0, -5]]), 'E2BIG');
    k.setLimits({ semopm: 5000 });
    const ops = Array.from({ length: 4000 }, (_, i): SemBuf => [0, i % 2 === 0 ? 1 : -1]);
    ops.push([0, 5]);
    root.semopSync(s, ops);
    expect(root.semctl(s, 0, GETVAL)).toBe(7);
    // a call of that size sleeps with its own copy of the ops
    const big = Array.from({ length: 3000 }, (): SemBuf => [0, -1]);
    const call = root.semop(s, big);
    root.semopSync(s, Array.from({ length: 2993 }, (): SemBuf => [0, 1]));
    await call;
    expect(root.semctl(s, 0, GETALL)).toEqual([0]);
    root.semctl(s, 0, IPC_RMID);
    expect(emulatorUsage(k).sleeping).toBe(0);
  });

  it('setLimits refuses what kernel.sem would not take here, all or nothing', async () => {
    const k = await openEmulator({ build });
    for (const bad of [{ semmni: 32769 }, { semmsl: -1 }, { semopm: 2 ** 31 }, { semmns: -5 }]) {
      expect(thrown(() => k.setLimits(bad))).toBeInstanceOf(RangeError);
    }
    expect(thrown(() => k.setLimits({ semopm: 1.5 }))).toBeInstanceOf(TypeError);
    expect(thrown(() => k.setLimits({ msgmax: 100, semmni: -1 }))).toBeInstanceOf(RangeError);
    expect(k.limits).toMatchObject({ msgmax: 8192, semmsl: 32000, semmns: 1024000000, semopm: 500, semmni: 32000 });
    await expect(openEmulator({ build, limits: { semmni: 40000 } })).rejects.toBeInstanceOf(RangeError);
    k.setLimits({ semmni: 32768, semmsl: 2 ** 31 - 1 });
    expect(k.limits).toMatchObject({ semmni: 32768, semmsl: 2 ** 31 - 1 });
  });

  it('a set too large for any wasm32 instance is ENOMEM, and the kernel goes on', async () => {
    const { k, root } = await kernel(build, { limits: { semmsl: 2 ** 31 - 1, semmns: 2 ** 31 - 1 } });
    expectErrno(() => root.semget(IPC_PRIVATE, 2 ** 28, IPC_CREAT | 0o600), 'ENOMEM');
    expectErrno(() => root.semget(IPC_PRIVATE, 2 ** 31 - 1, IPC_CREAT | 0o600), 'ENOMEM');
    expect(root.semctl(0, 0, SEM_INFO)).toMatchObject({ semusz: 0, semaem: 0 });
    const s = root.semget(IPC_PRIVATE, 1, IPC_CREAT | 0o600);
    root.semopSync(s, [[0, 1]]);
    root.semctl(s, 0, IPC_RMID);
    expect(emulatorUsage(k).sleeping).toBe(0);
  });
});
