/**
 * semctl on the emulator: how each command's argument crosses from
 * JavaScript (SETVAL's int, SETALL's unsigned shorts and their count,
 * IPC_SET's fields), what each answers, and bad input.
 */

import { describe, expect, it } from 'vitest';
import type { Emulator, SimProcess } from '../../host/api.js';
import {
  GETALL, GETNCNT, GETPID, GETVAL, GETZCNT, IPC_CREAT, IPC_INFO, IPC_PRIVATE, IPC_RMID, IPC_SET, IPC_STAT, SEM_INFO,
  SEM_STAT, SEM_STAT_ANY, SEM_UNDO, SETALL, SETVAL,
} from '../../host/constants.js';
import { IpcError } from '../../host/errors.js';
import { emulatorUsage } from '../../host/emu/index.js';
import { BUILDS, expectErrno, kernel, thrown, user } from './helpers.js';

function set(p: SimProcess, nsems: number, mode = 0o600): number {
  return p.semget(IPC_PRIVATE, nsems, IPC_CREAT | mode);
}

function done(k: Emulator, p: SimProcess, ...sets: number[]): void {
  for (const s of sets) p.semctl(s, 0, IPC_RMID);
  const usage = emulatorUsage(k);
  expect(usage.sleeping).toBe(0);
  expect(usage.pending).toBe(0);
}

describe.each(BUILDS)('semctl (%s build)', (build) => {
  it('GETALL and SETALL carry unsigned shorts: a value is taken modulo 65536, above SEMVMX is ERANGE and changes nothing', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 3);
    expect(root.semctl(s, 0, SETALL, [1, 65536 + 2, 32767])).toBe(0);
    expect(root.semctl(s, 0, GETALL)).toEqual([1, 2, 32767]);
    expectErrno(() => root.semctl(s, 0, SETALL, [0, 0, -1]), 'ERANGE');
    expectErrno(() => root.semctl(s, 0, SETALL, [32768, 0, 0]), 'ERANGE');
    expect(root.semctl(s, 0, GETALL)).toEqual([1, 2, 32767]);
    expect(thrown(() => root.semctl(s, 0, SETALL, [0, 0.5, 0]))).toBeInstanceOf(TypeError);
    expect(thrown(() => root.semctl(s, 0, SETALL, [0, 2 ** 31, 0]))).toBeInstanceOf(RangeError);
    expect(thrown(() => root.semctl(s, 0, SETALL, 'abc' as unknown as number[]))).toBeInstanceOf(TypeError);
    expect(root.semctl(s, 0, GETALL)).toEqual([1, 2, 32767]);
    done(k, root, s);
  });

  it('SETALL takes exactly nsems values (RangeError), checked where C would read them: after the id (EINVAL) and permission (EACCES); no array is EFAULT', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 2);
    expect(thrown(() => root.semctl(s, 0, SETALL, [1]))).toBeInstanceOf(RangeError);
    expect(thrown(() => root.semctl(s, 0, SETALL, [1, 2, 3]))).toBeInstanceOf(RangeError);
    expectErrno(() => root.semctl(s + 1, 0, SETALL, [1]), 'EINVAL');
    expectErrno(() => root.semctl(-1, 0, SETALL, [1]), 'EINVAL');
    expectErrno(() => user(k).semctl(s, 0, SETALL, [1]), 'EACCES');
    expectErrno(() => root.semctl(s, 0, SETALL, undefined as unknown as number[]), 'EFAULT');
    expectErrno(() => user(k).semctl(s, 0, SETALL, undefined as unknown as number[]), 'EACCES');
    expect(root.semctl(s, 0, GETALL)).toEqual([0, 0]);
    done(k, root, s);
  });

  it('GETALL and SETALL of a set larger than the staging buffer', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 32000);
    const values = Array.from({ length: 32000 }, (_, i) => i % 32768);
    root.semctl(s, 0, SETALL, values);
    expect(root.semctl(s, 0, GETALL)).toEqual(values);
    expect(root.semctl(s, 31999, GETVAL)).toBe(31999);
    expect(root.semctl(s, 31999, GETPID)).toBe(root.pid);
    root.semopSync(s, [[31999, -31999], [0, 0]]);
    expect(root.semctl(s, 31999, GETVAL)).toBe(0);
    done(k, root, s);
  });

  it('SETVAL\'s value is a C int: TypeError / RangeError when JavaScript cannot pass one, ERANGE outside [0, SEMVMX]', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 1);
    expect(thrown(() => root.semctl(s, 0, SETVAL, 1.5))).toBeInstanceOf(TypeError);
    expect(thrown(() => root.semctl(s, 0, SETVAL, undefined as unknown as number))).toBeInstanceOf(TypeError);
    expect(thrown(() => root.semctl(s, 0, SETVAL, 2 ** 31))).toBeInstanceOf(RangeError);
    expectErrno(() => root.semctl(s, 0, SETVAL, 65536), 'ERANGE');
    expectErrno(() => root.semctl(s, 0, SETVAL, -(2 ** 31)), 'ERANGE');
    expect(root.semctl(s, 0, SETVAL, 7)).toBe(0);
    expect(root.semctl(s, 0, GETVAL)).toBe(7);
    done(k, root, s);
  });

  it('IPC_SET keeps the fields left out, takes the low nine mode bits, and wants a buffer (EFAULT) once the id is not negative', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 1, 0o640);
    expect(root.semctl(s, 0, IPC_SET, { mode: 0o7644 })).toBe(0);
    expect(root.semctl(s, 0, IPC_STAT).sem_perm).toMatchObject({ uid: 0, gid: 0, mode: 0o644 });
    expect(root.semctl(s, 0, IPC_SET, { uid: 1000 })).toBe(0);
    expect(root.semctl(s, 0, IPC_STAT).sem_perm).toMatchObject({ uid: 1000, gid: 0, cuid: 0, mode: 0o644 });
    expectErrno(() => root.semctl(s, 0, IPC_SET, { gid: -1 }), 'EINVAL');
    expectErrno(() => root.semctl(s, 0, IPC_SET, undefined as unknown as object), 'EFAULT');
    expectErrno(() => root.semctl(-1, 0, IPC_SET, undefined as unknown as object), 'EINVAL');
    expect(thrown(() => root.semctl(s, 0, IPC_SET, 5 as unknown as object))).toBeInstanceOf(TypeError);
    expect(thrown(() => root.semctl(s, 0, IPC_SET, { mode: '0600' } as unknown as object))).toBeInstanceOf(TypeError);
    expectErrno(() => k.spawn({ uid: 1001 }).semctl(s, 0, IPC_SET, { mode: 0o666 }), 'EPERM');
    // the new owner may change it and remove it
    const owner = k.spawn({ uid: 1000 });
    expect(owner.semctl(s, 0, IPC_SET, { mode: 0o600 })).toBe(0);
    expect(root.semctl(s, 0, IPC_STAT).sem_ctime).toBeGreaterThan(0);
    expect(owner.semctl(s, 0, IPC_RMID)).toBe(0);
    expectErrno(() => owner.semctl(s, 0, IPC_RMID), 'EINVAL');
    done(k, root);
  });

  it('IPC_STAT, SEM_STAT, SEM_STAT_ANY, IPC_INFO and SEM_INFO answer their structures; STAT by index answers the full id', async () => {
    const { k, root } = await kernel(build);
    const a = root.semget(41, 2, IPC_CREAT | 0o640);
    const b = set(root, 5);
    root.semopSync(b, [[4, 1]]);
    expect(root.semctl(a, 0, IPC_STAT)).toEqual({
      sem_perm: { key: 41, uid: 0, gid: 0, cuid: 0, cgid: 0, mode: 0o640 },
      sem_otime: 0, sem_ctime: expect.any(Number) as number, sem_nsems: 2,
    });
    const index = b & 0x7fff;
    const byIndex = root.semctl(index, 0, SEM_STAT);
    expect(byIndex.result).toBe(b);
    expect(byIndex.sem_nsems).toBe(5);
    expect(byIndex.sem_otime).toBeGreaterThan(0);
    expect(user(k).semctl(index, 0, SEM_STAT_ANY).result).toBe(b);
    expectErrno(() => user(k).semctl(index, 0, SEM_STAT), 'EACCES');
    const info = root.semctl(0, 0, IPC_INFO);
    expect(info).toEqual({
      result: Math.max(a & 0x7fff, index), semmap: 1024000000, semmni: 32000, semmns: 1024000000, semmnu: 1024000000,
      semmsl: 32000, semopm: 500, semume: 500, semusz: 20, semvmx: 32767, semaem: 32767,
    });
    expect(root.semctl(0, 0, SEM_INFO)).toMatchObject({ semusz: 2, semaem: 7 });
    done(k, root, a, b);
    expect(root.semctl(0, 0, SEM_INFO)).toMatchObject({ result: 0, semusz: 0, semaem: 0 });
  });

  it('the GET commands answer per semaphore; unknown commands (IPC_64 included) are EINVAL; every error names semctl', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 2);
    root.semopSync(s, [[1, 3, SEM_UNDO]]);
    expect([GETVAL, GETPID, GETNCNT, GETZCNT].map((c) => root.semctl(s, 1, c as typeof GETVAL))).toEqual([3, root.pid, 0, 0]);
    expect(root.semctl(s, 0, GETZCNT)).toBe(0);
    for (const cmd of [4, 10, 21, 99, -1, 0x100 | IPC_STAT, 0x100 | GETALL]) {
      const e = thrown(() => root.semctl(s, 0, cmd));
      expect(e, String(cmd)).toBeInstanceOf(IpcError);
      expect((e as IpcError).code).toBe('EINVAL');
      expect((e as IpcError).syscall).toBe('semctl');
    }
    expect(thrown(() => root.semctl(s, 0.5, GETVAL))).toBeInstanceOf(TypeError);
    expect(thrown(() => root.semctl('1' as unknown as number, 0, GETVAL))).toBeInstanceOf(TypeError);
    expect(thrown(() => root.semctl(s, 0, 2 ** 31 as typeof GETVAL))).toBeInstanceOf(RangeError);
    done(k, root, s);
  });
});
