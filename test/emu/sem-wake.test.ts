/**
 * Who wakes, in which order (ipc/sem.c: update_queue, wake_const_ops,
 * do_smart_update, merge_queues / unmerge_queues), beyond what the
 * conformance scenarios pin: the order in which the sleepers one call
 * completes are answered, the set's list while complex sleepers exist and
 * the return to per-semaphore lists once they are gone (whether they
 * completed, were interrupted or their process exited), and that nothing
 * leaks when sets with sleepers and undo entries go.
 */

import { describe, expect, it } from 'vitest';
import type { Emulator, SemBuf, SimProcess } from '../../host/api.js';
import {
  GETALL, GETNCNT, GETZCNT, IPC_CREAT, IPC_PRIVATE, IPC_RMID, SEM_UNDO, SETALL, SETVAL,
} from '../../host/constants.js';
import { emulatorUsage } from '../../host/emu/index.js';
import { BUILDS, expectRejects, kernel, pending, turn } from './helpers.js';

function set(p: SimProcess, nsems: number): number {
  return p.semget(IPC_PRIVATE, nsems, IPC_CREAT | 0o666);
}

/** Starts a semop as `p` that records its name (and errno) in `order` when it settles. */
function sleeper(order: string[], name: string, p: SimProcess, s: number, ops: SemBuf[], signal?: AbortSignal): Promise<void> {
  return p.semop(s, ops, signal ? { signal } : {}).then(
    () => { order.push(name); },
    (e: { code: string }) => { order.push(`${name}:${e.code}`); },
  );
}

function done(k: Emulator, p: SimProcess, ...sets: number[]): void {
  for (const s of sets) p.semctl(s, 0, IPC_RMID);
  const usage = emulatorUsage(k);
  expect(usage.sleeping).toBe(0);
  expect(usage.pending).toBe(0);
}

describe.each(BUILDS)('semaphore wake-ups (%s build)', (build) => {
  it('one call answers its wait-for-zero sleepers first, then the alterers in arrival order, each with its op applied', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 2);
    root.semctl(s, 0, SETALL, [1, 0]);
    const order: string[] = [];
    const all = [
      sleeper(order, 'dec2', k.spawn(), s, [[1, -2]]),
      sleeper(order, 'zero1', k.spawn(), s, [[0, 0]]),
      sleeper(order, 'dec1', k.spawn(), s, [[1, -1]]),
      sleeper(order, 'zero2', k.spawn(), s, [[0, 0]]),
    ];
    await turn();
    // semaphore 0 reaches 0 (its wait-for-zero sleepers), then semaphore 1's alterers, oldest first
    root.semopSync(s, [[0, -1], [1, 3]]);
    await Promise.all(all);
    expect(order).toEqual(['zero1', 'zero2', 'dec2', 'dec1']);
    expect(root.semctl(s, 0, GETALL)).toEqual([0, 0]);
    done(k, root, s);
  });

  it('the first complex sleeper gathers the per-semaphore alterers onto the set\'s list, highest semaphore first', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 3);
    const order: string[] = [];
    const all = [
      sleeper(order, 'x0', k.spawn(), s, [[0, -1]]),
      sleeper(order, 'y2', k.spawn(), s, [[2, -1]]),
      sleeper(order, 'z1', k.spawn(), s, [[1, -1]]),
      sleeper(order, 'complex', k.spawn(), s, [[0, -1], [1, -1], [2, -1]]),
    ];
    await turn();
    // merge_queues splices each semaphore's list in at the head: [y2, z1, x0, complex]
    root.semopSync(s, [[0, 2], [1, 2], [2, 2]]);
    await Promise.all(all);
    expect(order).toEqual(['y2', 'z1', 'x0', 'complex']);
    expect(root.semctl(s, 0, GETALL)).toEqual([0, 0, 0]);
    done(k, root, s);
  });

  it('while a complex call sleeps, single-op alterers queue behind it in arrival order; once it is interrupted they return to their semaphores in that order', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 2);
    const order: string[] = [];
    const ac = new AbortController();
    const a = sleeper(order, 'a', k.spawn(), s, [[0, -1]]);
    const c = sleeper(order, 'c', k.spawn(), s, [[0, -1], [1, -1]], ac.signal);
    const b = sleeper(order, 'b', k.spawn(), s, [[0, -1]]);
    await turn();
    expect(root.semctl(s, 0, GETNCNT)).toBe(3);
    ac.abort();
    await c;
    expect(root.semctl(s, 0, GETNCNT)).toBe(2);
    const d = sleeper(order, 'd', k.spawn(), s, [[0, -1]]);
    await turn();
    root.semopSync(s, [[0, 1]]);
    await a;
    root.semopSync(s, [[0, 1]]);
    await b;
    root.semopSync(s, [[0, 1]]);
    await d;
    expect(order).toEqual(['c:EINTR', 'a', 'b', 'd']);
    done(k, root, s);
  });

  it('a complex sleeper that completes ends complex mode: later single sleepers are served in arrival order on their own semaphore', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 2);
    const order: string[] = [];
    const c = sleeper(order, 'c', k.spawn(), s, [[0, -1], [1, -1]]);
    const a = sleeper(order, 'a', k.spawn(), s, [[1, -1]]);
    await turn();
    // the complex call is older: it takes the units of both
    root.semopSync(s, [[0, 1], [1, 1]]);
    await c;
    expect(await pending(a)).toBe(true);
    const b = sleeper(order, 'b', k.spawn(), s, [[1, -1]]);
    await turn();
    expect(root.semctl(s, 1, GETNCNT)).toBe(2);
    root.semopSync(s, [[1, 1]]);
    await a;
    expect(await pending(b)).toBe(true);
    root.semopSync(s, [[1, 1]]);
    await b;
    expect(order).toEqual(['c', 'a', 'b']);
    done(k, root, s);
  });

  it('an exit abandons the process\'s complex sleeper: the line behind it moves up, and nothing it asked for is applied', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 2);
    const order: string[] = [];
    const quitter = k.spawn();
    void quitter.semop(s, [[0, -1, SEM_UNDO], [1, 1, SEM_UNDO]]);
    const a = sleeper(order, 'a', k.spawn(), s, [[0, -1]]);
    await turn();
    expect(root.semctl(s, 0, GETNCNT)).toBe(2);
    await quitter.exit();
    expect(root.semctl(s, 0, GETNCNT)).toBe(1);
    root.semopSync(s, [[0, 1]]);
    await a;
    expect(root.semctl(s, 0, GETALL)).toEqual([0, 0]);
    done(k, root, s);
  });

  it('a sleeper blocked on wait-for-zero inside an altering call is counted by GETZCNT where it blocks, and moves as values change', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 3);
    root.semctl(s, 0, SETALL, [1, 1, 0]);
    const call = k.spawn().semop(s, [[0, 0], [1, 0], [2, 1]]);
    await turn();
    expect([0, 1, 2].map((n) => root.semctl(s, n, GETZCNT))).toEqual([1, 0, 0]);
    root.semopSync(s, [[0, -1]]);
    expect([0, 1, 2].map((n) => root.semctl(s, n, GETZCNT))).toEqual([0, 1, 0]);
    root.semopSync(s, [[1, -1]]);
    await call;
    expect(root.semctl(s, 0, GETALL)).toEqual([0, 0, 1]);
    done(k, root, s);
  });

  it('a re-run that now fails is answered with its error and leaves the line; the scan goes on to the sleepers behind it', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 2);
    root.semctl(s, 1, SETVAL, 32767);
    const order: string[] = [];
    const all = [
      sleeper(order, 'range', k.spawn(), s, [[0, -1], [1, 1]]),
      sleeper(order, 'nowait', k.spawn(), s, [[0, -1], [1, -32767], [1, -1, 0o4000]]),
      sleeper(order, 'ok', k.spawn(), s, [[0, -1]]),
    ];
    await turn();
    root.semopSync(s, [[0, 1]]);
    await Promise.all(all);
    expect(order).toEqual(['range:ERANGE', 'nowait:EAGAIN', 'ok']);
    expect(root.semctl(s, 0, GETALL)).toEqual([0, 32767]);
    done(k, root, s);
  });

  it('IPC_RMID answers every sleeper EIDRM (complex, single, wait-for-zero, SEM_UNDO) and frees the set, its undo entries and the sleepers\' ops', async () => {
    const { k, root } = await kernel(build);
    // the first sleeper grows the token table and the completion buffer, which stay
    const warm = set(root, 1);
    await expectRejects(root.semtimedop(warm, [[0, -1]], 0), 'EAGAIN');
    root.semctl(warm, 0, IPC_RMID);
    const before = emulatorUsage(k).bytes;
    const s = set(root, 40);
    const procs = Array.from({ length: 6 }, () => k.spawn());
    procs[0]!.semopSync(s, [[3, 2, SEM_UNDO]]);
    root.semopSync(s, [[39, 1]]);
    const calls = [
      procs[1]!.semop(s, [[0, -1, SEM_UNDO]]),
      procs[2]!.semop(s, [[39, 0]]),
      procs[3]!.semop(s, [[1, -1], [2, -1, SEM_UNDO], [39, 0]]),
      procs[4]!.semop(s, [[39, 0], [38, 0]]),
      procs[5]!.semtimedop(s, [[5, -3]], 60_000),
    ];
    await turn();
    root.semctl(s, 0, IPC_RMID);
    await Promise.all(calls.map((c) => expectRejects(c, 'EIDRM')));
    for (const p of procs) await p.exit();
    expect(emulatorUsage(k)).toEqual({ bytes: before, sleeping: 0, pending: 0 });
  });

  it('exits free every undo entry and leave values in range after many random SEM_UNDO calls', async () => {
    const { k, root } = await kernel(build);
    const before = emulatorUsage(k).bytes;
    const sets = [set(root, 3), set(root, 1), set(root, 5)];
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const procs = Array.from({ length: 8 }, () => k.spawn());
    for (let i = 0; i < 2000; i++) {
      const p = procs[rand(procs.length)]!;
      const s = sets[rand(sets.length)]!;
      const nsems = [3, 1, 5][sets.indexOf(s)]!;
      const ops: SemBuf[] = Array.from({ length: 1 + rand(3) }, (): SemBuf => [rand(nsems), rand(7) - 3, SEM_UNDO]);
      try {
        p.semopSync(s, ops);
      } catch (e) {
        expect(['EAGAIN', 'ERANGE']).toContain((e as { code: string }).code);
      }
    }
    for (const p of procs) await p.exit();
    for (const s of sets) for (const v of root.semctl(s, 0, GETALL)) expect(v).toBeGreaterThanOrEqual(0);
    for (const s of sets) root.semctl(s, 0, IPC_RMID);
    expect(emulatorUsage(k)).toEqual({ bytes: before, sleeping: 0, pending: 0 });
  });
});
