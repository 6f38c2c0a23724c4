import { describe, expect, it } from 'vitest';
import { IPC_PRIVATE, IPC_STAT, SEM_UNDO } from '../../host/constants.js';
import { IpcError } from '../../host/errors.js';
import { SemaphoreSet } from '../../host/objects/sem.js';
import { BACKENDS } from '../backends.js';
import { rejectsWith, throwsWith } from '../errors.js';

const key = () => 0x1e100000 + Math.floor(Math.random() * 0xfffff);

const settle = () => new Promise((r) => setTimeout(r, 30));

for (const backend of BACKENDS) {
  describe.skipIf(backend.unavailable !== undefined)(`SemaphoreSet on ${backend.name}${backend.unavailable ? ` (unavailable: ${backend.unavailable})` : ''}`, () => {
    it('opens by key in the three modes and reports its size', async () => {
      const p = await backend.process();
      const k = key();
      throwsWith(() => SemaphoreSet.open(p, k), 'ENOENT');
      throwsWith(() => SemaphoreSet.open(p, k, { mode: 'create' }), 'EINVAL'); // creating needs a size
      using made = SemaphoreSet.open(p, k, { mode: 'exclusive', size: 3, perms: 0o640 });
      expect(made.created).toBe(true);
      expect(made.size).toBe(3);
      expect(made.values).toEqual([0, 0, 0]);
      throwsWith(() => SemaphoreSet.open(p, k, { mode: 'exclusive', size: 3 }), 'EEXIST');
      throwsWith(() => SemaphoreSet.open(p, k, { size: 4 }), 'EINVAL');
      const opened = SemaphoreSet.open(p, k, { size: 2 });
      expect(opened.id).toBe(made.id);
      expect(opened.created).toBe(false);
      expect(made.stat().sem_perm.mode).toBe(0o640);
    });

    it('acquire waits for enough, release wakes it, and the values follow', async () => {
      const p = await backend.process();
      using s = SemaphoreSet.open(p, IPC_PRIVATE, { size: 2 });
      s.values = [1, 5];
      await s.acquire(1);
      let done = false;
      const waiting = s.acquire(2).then(() => { done = true; });
      await settle();
      expect(done).toBe(false);
      expect(s.waiting(0)).toEqual({ decrement: 1, zero: 0 });
      s.release(1);
      await settle();
      expect(done).toBe(false);
      s.release(1);
      await waiting;
      expect(s.value(0)).toBe(0);
      await s.acquire(5, { index: 1 });
      expect(s.values).toEqual([0, 0]);
      expect(s.lastPid(1)).toBe(p.pid);
    });

    it('waitZero waits until the value is zero; nowait fails at once with EAGAIN', async () => {
      const p = await backend.process();
      using s = SemaphoreSet.open(p, IPC_PRIVATE, { size: 1 });
      s.setValue(0, 2);
      await rejectsWith(s.waitZero({ nowait: true }), 'EAGAIN');
      await rejectsWith(s.acquire(3, { nowait: true }), 'EAGAIN');
      const zero = s.waitZero();
      await settle();
      expect(s.waiting(0)).toEqual({ decrement: 0, zero: 1 });
      await s.acquire(2);
      await zero;
    });

    it('apply is all or nothing, and a timeout or an abort ends a wait', async () => {
      const p = await backend.process();
      using s = SemaphoreSet.open(p, IPC_PRIVATE, { size: 2 });
      s.values = [1, 0];
      await rejectsWith(s.apply([[0, -1, 0], [1, -1, SEM_UNDO | 0o4000]]), 'EAGAIN');
      expect(s.values).toEqual([1, 0]);
      await rejectsWith(s.acquire(1, { index: 1, timeout: 20 }), 'EAGAIN');
      const controller = new AbortController();
      const aborted = s.acquire(1, { index: 1, signal: controller.signal });
      await settle();
      controller.abort('stop');
      await rejectsWith(aborted, 'EINTR');
      expect(s.waiting(1)).toEqual({ decrement: 0, zero: 0 });
      expect(() => s.release(0)).toThrow(RangeError);
      throwsWith(() => s.release(32767), 'ERANGE');
    });

    it('remove wakes sleepers with EIDRM; dispose leaves an opened set alone', async () => {
      const p = await backend.process();
      const k = key();
      const made = SemaphoreSet.open(p, k, { mode: 'exclusive', size: 1 });
      {
        using opened = SemaphoreSet.open(p, k);
        expect(opened.id).toBe(made.id);
      }
      const sleeping = made.acquire(1);
      await settle();
      made.remove();
      await rejectsWith(sleeping, 'EIDRM');
      throwsWith(() => p.semctl(made.id, 0, IPC_STAT), 'EINVAL');
      expect(() => made[Symbol.dispose]()).not.toThrow();
    });
  });
}
