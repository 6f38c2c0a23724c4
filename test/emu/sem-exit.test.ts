/**
 * SEM_UNDO across exit and fork on the emulator (ipc/sem.c: exit_sem,
 * lookup_undo, copy_semundo without CLONE_SYSVSEM): the order in which an
 * exit visits its sets, a forked child's empty undo list, and what a
 * process that has exited answers.
 */

import { describe, expect, it } from 'vitest';
import type { SimProcess } from '../../host/api.js';
import { GETALL, GETPID, IPC_CREAT, IPC_PRIVATE, IPC_RMID, SEM_UNDO } from '../../host/constants.js';
import { emulatorUsage } from '../../host/emu/index.js';
import { BUILDS, expectErrno, kernel, turn } from './helpers.js';

function set(p: SimProcess, nsems: number): number {
  return p.semget(IPC_PRIVATE, nsems, IPC_CREAT | 0o666);
}

describe.each(BUILDS)('SEM_UNDO at exit and fork (%s build)', (build) => {
  it('an exit visits its sets most recently used first, as lookup_undo keeps the list', async () => {
    for (const last of ['a', 'b'] as const) {
      const { k, root } = await kernel(build);
      const sets = { a: set(root, 1), b: set(root, 1) };
      const p = k.spawn();
      // -1 with SEM_UNDO records +1 for the exit; the sleepers wait for that unit
      root.semopSync(sets.a, [[0, 1]]);
      root.semopSync(sets.b, [[0, 1]]);
      p.semopSync(sets.a, [[0, -1, SEM_UNDO]]);
      p.semopSync(sets.b, [[0, -1, SEM_UNDO]]);
      p.semopSync(sets[last], [[0, 0, SEM_UNDO]]);
      const order: string[] = [];
      const calls = (['a', 'b'] as const).map((name) => k.spawn().semop(sets[name], [[0, -1]]).then(() => { order.push(name); }));
      await turn();
      await p.exit();
      await Promise.all(calls);
      expect(order).toEqual(last === 'a' ? ['a', 'b'] : ['b', 'a']);
      for (const s of Object.values(sets)) {
        expect(root.semctl(s, 0, GETALL)).toEqual([0]);
        root.semctl(s, 0, IPC_RMID);
      }
      expect(emulatorUsage(k).sleeping).toBe(0);
    }
  });

  it('a forked child starts with no adjustments; each exit gives back only its own', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 2);
    const parent = k.spawn();
    parent.semopSync(s, [[0, 5, SEM_UNDO], [1, 2, SEM_UNDO]]);
    const child = parent.fork();
    child.semopSync(s, [[1, 3, SEM_UNDO]]);
    await child.exit();
    expect(root.semctl(s, 0, GETALL)).toEqual([5, 2]);
    expect(root.semctl(s, 0, GETPID)).toBe(parent.pid);
    expect(root.semctl(s, 1, GETPID)).toBe(child.pid);
    const grandchild = parent.fork();
    await grandchild.exit();
    expect(root.semctl(s, 0, GETALL)).toEqual([5, 2]);
    await parent.exit();
    expect(root.semctl(s, 0, GETALL)).toEqual([0, 0]);
    expect(root.semctl(s, 0, GETPID)).toBe(parent.pid);
    root.semctl(s, 0, IPC_RMID);
  });

  it('a process that has exited answers ESRCH; its sleeping semop is abandoned, never answered', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 1);
    const p = k.spawn();
    let answered = false;
    void p.semop(s, [[0, -1, SEM_UNDO]]).then(() => { answered = true; }, () => { answered = true; });
    await turn();
    await p.exit();
    expectErrno(() => p.semopSync(s, [[0, 1]]), 'ESRCH');
    expectErrno(() => p.semget(IPC_PRIVATE, 1, IPC_CREAT), 'ESRCH');
    expectErrno(() => p.semctl(s, 0, GETALL), 'ESRCH');
    root.semopSync(s, [[0, 1]]);
    await turn();
    expect(answered).toBe(false);
    expect(root.semctl(s, 0, GETALL)).toEqual([1]);
    root.semctl(s, 0, IPC_RMID);
    expect(emulatorUsage(k)).toMatchObject({ sleeping: 0, pending: 0 });
  });
});
