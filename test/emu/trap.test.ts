/**
 * A trap in the core is a bug: it poisons that kernel (every later call
 * throws a clear Error, sleeping calls are rejected with it) and nothing
 * else — the process, and other kernels, go on. Also: memory returns to a
 * steady state, so repeated work leaks nothing.
 */

import { describe, expect, it } from 'vitest';
import { IPC_CREAT, IPC_PRIVATE, IPC_RMID, IPC_SET, MSG_COPY, MSG_NOERROR } from '../../host/constants.js';
import { emulatorUsage, trapEmulator } from '../../host/emu/index.js';
import { BUILDS, cleanUp, kernel, queue, text, thrown, turn } from './helpers.js';

describe.each([1, 2] as const)('a trap in the core (kind %i)', (kind) => {
  it('poisons that kernel only: the call and every later one throw, sleepers are rejected, others work on', async () => {
    const { k, root } = await kernel('debug');
    const q = queue(root);
    const sleeping = root.msgrcv(q, 64, 0);
    await turn();
    const first = thrown(() => trapEmulator(k, kind));
    expect(first).toBeInstanceOf(Error);
    expect((first as Error).message).toMatch(/^ipcemu: the emulated kernel trapped \(bug\): /);
    expect((first as Error).cause).toBeDefined();
    await expect(sleeping).rejects.toThrow(/trapped \(bug\)/);
    const later = thrown(() => root.msgsndSync(q, 1, text('x')));
    expect((later as Error).message).toMatch(/^ipcemu: the emulated kernel trapped earlier \(bug\): /);
    await expect(root.msgrcv(q, 64, 0)).rejects.toThrow(/trapped earlier/);
    expect(() => k.spawn()).toThrow(/trapped earlier/);
    expect(() => root.fork()).toThrow(/trapped earlier/);
    await expect(root.exit()).rejects.toThrow(/trapped earlier/);
    // another kernel is unaffected
    const fresh = await kernel('debug');
    const q2 = queue(fresh.root);
    fresh.root.msgsndSync(q2, 1, text('fine'));
    expect(fresh.root.msgrcvSync(q2, 64, 0).mtype).toBe(1);
    cleanUp(fresh.k, fresh.root, q2);
  });
});

describe('the release build', () => {
  it('has no deliberate trap: the test hook does nothing there', async () => {
    const { k, root } = await kernel('release');
    trapEmulator(k, 1);
    trapEmulator(k, 2);
    const q = queue(root);
    cleanUp(k, root, q);
  });
});

describe.each(BUILDS)('memory (%s build)', (build) => {
  it('repeating a workload (every path: hand-off, E2BIG, woken senders, COPY, RMID with sleepers, exit) reaches a steady state', async () => {
    const { k, root } = await kernel(build);
    const workload = async (): Promise<void> => {
      const q = root.msgget(IPC_PRIVATE, IPC_CREAT | 0o600);
      for (let t = 1; t <= 50; t++) root.msgsndSync(q, t, new Uint8Array(t * 3));
      root.msgrcvSync(q, 64, 0, MSG_COPY);
      for (let t = 1; t <= 25; t++) root.msgrcvSync(q, 8192, -t);
      const r = root.msgrcv(q, 1, 999);
      const r2 = root.msgrcv(q, 1, 998, MSG_NOERROR);
      await turn();
      root.msgsndSync(q, 999, new Uint8Array(40));
      root.msgsndSync(q, 998, new Uint8Array(40));
      await Promise.allSettled([r, r2]);
      root.msgctl(q, IPC_SET, { msg_qbytes: 100 });
      const senders = [root.msgsnd(q, 5, new Uint8Array(60)), root.msgsnd(q, 6, new Uint8Array(60))];
      const child = k.spawn();
      void child.msgsnd(q, 7, new Uint8Array(90));
      void child.msgrcv(q, 8, 12345);
      await turn();
      await child.exit();
      for (let t = 26; t <= 50; t++) root.msgrcvSync(q, 8192, t);
      const leftover = root.msgrcv(q, 64, 4242);
      await turn();
      root.msgctl(q, IPC_RMID);
      await Promise.allSettled([...senders, leftover]);
    };
    await workload();
    const steady = emulatorUsage(k);
    for (let i = 0; i < 5; i++) await workload();
    expect(emulatorUsage(k)).toEqual(steady);
    expect(steady).toMatchObject({ sleeping: 0, pending: 0 });
    cleanUp(k, root);
  });
});
