/**
 * Blocking calls on the native backend: they sleep on threads of the addon
 * (never the JavaScript thread, never libuv's pool), wake as the kernel
 * decides, and end on AbortSignal or timeout without losing a message.
 * Timing is only ever bounded by a generous watchdog; the figures measured
 * are printed for the record.
 */

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../host/api.js';
import { IPC_RMID, IPC_SET, IPC_STAT } from '../../host/constants.js';
import { IpcError } from '../../host/errors.js';
import { loadAddon } from '../../host/native/load.js';
import {
  bytes, ipcsQueues, leakedSince, native, queue, rejectsWith, self, SYS, titled, untilSleeping,
} from './helpers.js';

const WATCHDOG_MS = 1000;

/** Resolves with the ms `promise` took to settle, failing if that passes the watchdog. */
async function settledWithin<T>(promise: Promise<T>, since: number): Promise<{ ms: number; value?: T; error?: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const watchdog = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within the ${WATCHDOG_MS} ms watchdog`)), WATCHDOG_MS);
  });
  try {
    const outcome = await Promise.race([
      promise.then((value) => ({ value }), (error: unknown) => ({ error })),
      watchdog,
    ]);
    return { ms: performance.now() - since, ...outcome };
  } finally {
    clearTimeout(timer);
  }
}

describe.skipIf(native.unavailable !== undefined)(titled('native blocking calls'), () => {
  let before: Map<number, unknown>;
  beforeAll(() => {
    before = ipcsQueues();
  });

  it('a receive sleeps in msgrcv on a thread of its own until a matching message comes', async () => {
    const p = self();
    using q = queue();
    const five = p.msgrcv(q.id, 16, 5);
    const big = p.msgrcv(q.id, 16, 1n << 60n);
    await untilSleeping(SYS.msgrcv, q.id, 2);
    p.msgsndSync(q.id, 4, bytes('four'));
    p.msgsndSync(q.id, 1n << 60n, bytes('wide'));
    p.msgsndSync(q.id, 5, bytes('five'));
    expect(await five).toEqual({ mtype: 5, data: bytes('five') });
    expect(await big).toEqual({ mtype: 1n << 60n, data: bytes('wide') });
    // The type-4 message was not for them: it is still queued.
    expect(p.msgctl(q.id, IPC_STAT).msg_qnum).toBe(1);
  });

  it('a send sleeps while the queue is full and goes through once a receive makes room', async () => {
    const p = self();
    using q = queue();
    p.msgctl(q.id, IPC_SET, { msg_qbytes: 4 });
    p.msgsndSync(q.id, 1, bytes('abcd'));
    let sent = false;
    const blocked = p.msgsnd(q.id, 2, bytes('efgh')).then(() => { sent = true; });
    await untilSleeping(SYS.msgsnd, q.id, 1);
    expect(sent).toBe(false);
    expect(p.msgrcvSync(q.id, 4, 0).data).toEqual(bytes('abcd'));
    await blocked;
    expect(p.msgrcvSync(q.id, 4, 0)).toEqual({ mtype: 2, data: bytes('efgh') });
  });

  it('IPC_RMID fails every sleeping receive and send with EIDRM', async () => {
    const p = self();
    const q = queue();
    const full = queue();
    p.msgctl(full.id, IPC_SET, { msg_qbytes: 1 });
    p.msgsndSync(full.id, 1, bytes('x'));
    const calls: Promise<unknown>[] = [p.msgrcv(q.id, 8, 0), p.msgrcv(q.id, 8, 3), p.msgsnd(full.id, 1, bytes('y'))];
    await untilSleeping(SYS.msgrcv, q.id, 2);
    await untilSleeping(SYS.msgsnd, full.id, 1);
    p.msgctl(q.id, IPC_RMID);
    p.msgctl(full.id, IPC_RMID);
    await Promise.all(calls.map((c) => rejectsWith(c, 'EIDRM')));
  });

  it('an abort ends a sleeping receive with EINTR carrying signal.reason, well within the watchdog', async () => {
    const p = self();
    using q = queue();
    const times: number[] = [];
    for (let round = 0; round < 20; round++) {
      const controller = new AbortController();
      const pending = p.msgrcv(q.id, 8, 0, 0, { signal: controller.signal });
      await untilSleeping(SYS.msgrcv, q.id, 1);
      const reason = new Error(`stop ${round}`);
      const start = performance.now();
      controller.abort(reason);
      const { ms, error } = await settledWithin(pending, start);
      expect(error).toBeInstanceOf(IpcError);
      expect((error as IpcError).code).toBe('EINTR');
      expect((error as IpcError).syscall).toBe('msgrcv');
      expect((error as IpcError).cause).toBe(reason);
      times.push(ms);
    }
    times.sort((a, b) => a - b);
    console.log(`abort → settled: median ${times[10]!.toFixed(3)} ms, max ${times[19]!.toFixed(3)} ms (20 rounds)`);
  });

  it('an abort also ends a sleeping send with EINTR', async () => {
    const p = self();
    using q = queue();
    p.msgctl(q.id, IPC_SET, { msg_qbytes: 1 });
    p.msgsndSync(q.id, 1, bytes('x'));
    const controller = new AbortController();
    const pending = p.msgsnd(q.id, 1, bytes('y'), 0, { signal: controller.signal });
    await untilSleeping(SYS.msgsnd, q.id, 1);
    controller.abort('enough');
    const error = await rejectsWith(pending, 'EINTR');
    expect(error.cause).toBe('enough');
    expect(p.msgctl(q.id, IPC_STAT).msg_qnum).toBe(1);
  });

  it('a timeout ends a sleeping call with EAGAIN; a call that need not sleep ignores it', async () => {
    const p = self();
    using q = queue();
    await rejectsWith(p.msgrcv(q.id, 8, 0, 0, { timeout: 20 }), 'EAGAIN');
    await rejectsWith(p.msgrcv(q.id, 8, 0, 0, { timeout: 0 }), 'EAGAIN');
    p.msgsndSync(q.id, 3, bytes('here'));
    expect(await p.msgrcv(q.id, 8, 0, 0, { timeout: 0 })).toEqual({ mtype: 3, data: bytes('here') });
    p.msgctl(q.id, IPC_SET, { msg_qbytes: 1 });
    p.msgsndSync(q.id, 1, bytes('x'));
    await rejectsWith(p.msgsnd(q.id, 1, bytes('y'), 0, { timeout: 15 }), 'EAGAIN');
    // A timeout beyond setTimeout's 2^31 - 1 ms is not cut short.
    const controller = new AbortController();
    const long = p.msgrcv(q.id, 8, 9, 0, { timeout: 2 ** 40, signal: controller.signal });
    await untilSleeping(SYS.msgrcv, q.id, 1);
    controller.abort();
    await rejectsWith(long, 'EINTR');
  });

  it('an already aborted signal fails only a call that would sleep', async () => {
    const p = self();
    using q = queue();
    const aborted = AbortSignal.abort('early');
    const error = await rejectsWith(p.msgrcv(q.id, 8, 0, 0, { signal: aborted }), 'EINTR');
    expect(error.cause).toBe('early');
    p.msgsndSync(q.id, 1, bytes('ok'));
    expect(await p.msgrcv(q.id, 8, 0, 0, { signal: aborted })).toEqual({ mtype: 1, data: bytes('ok') });
    await p.msgsnd(q.id, 1, bytes('ok'), 0, { signal: aborted });
    expect(p.msgctl(q.id, IPC_STAT).msg_qnum).toBe(1);
  });

  it('an abort that races a delivery never loses the message', async () => {
    const p = self();
    using q = queue();
    const rounds = 300;
    let delivered = 0;
    let interrupted = 0;
    for (let i = 0; i < rounds; i++) {
      const controller = new AbortController();
      const pending = p.msgrcv(q.id, 8, 0, 0, { signal: controller.signal });
      // Vary where the abort lands: before the thread enters msgrcv, while it sleeps, as it wakes.
      if (i % 3 === 1) await untilSleeping(SYS.msgrcv, q.id, 1);
      if (i % 3 === 2) await new Promise((r) => setImmediate(r));
      p.msgsndSync(q.id, 1, bytes(String(i)));
      controller.abort();
      const { value, error } = await settledWithin(pending, performance.now());
      if (error === undefined) {
        expect((value as Message).data).toEqual(bytes(String(i)));
        delivered++;
      } else {
        expect((error as IpcError).code).toBe('EINTR');
        // Not delivered to the aborted call: still in the queue.
        expect(p.msgrcvSync(q.id, 8, 0).data).toEqual(bytes(String(i)));
        interrupted++;
      }
      expect(p.msgctl(q.id, IPC_STAT).msg_qnum).toBe(0);
    }
    expect(delivered + interrupted).toBe(rounds);
    console.log(`abort racing a send: ${delivered} delivered to the aborted call, ${interrupted} left queued, 0 lost`);
  });

  it('an abort right after the start, before the thread is in the kernel, still ends the call', async () => {
    const p = self();
    using q = queue();
    for (let i = 0; i < 300; i++) {
      const controller = new AbortController();
      const pending = p.msgrcv(q.id, 8, 0, 0, { signal: controller.signal });
      controller.abort();
      const { error } = await settledWithin(pending, performance.now());
      expect((error as IpcError).code).toBe('EINTR');
    }
  });

  it('100 sleeping receives leave libuv\'s pool free: fs.readFile answers at once', async () => {
    const p = self();
    using q = queue();
    // Background waits (ref: false): even if this test failed midway they could not hold the process.
    const receives = Array.from({ length: 100 }, () => p.msgrcv(q.id, 8, 0, 0, { ref: false }).catch((e: unknown) => e));
    await untilSleeping(SYS.msgrcv, q.id, 100);
    const start = performance.now();
    // More reads than libuv's 4 threads: any of them stuck would show.
    const reads = Promise.all(Array.from({ length: 8 }, () => readFile(fileURLToPath(import.meta.url))));
    const { ms, error } = await settledWithin(reads, start);
    expect(error).toBeUndefined();
    console.log(`8 fs.readFile with 100 receives asleep: ${ms.toFixed(2)} ms`);
    const stats = loadAddon().stats();
    expect(stats.pending).toBe(100);
    expect(stats.threads).toBeGreaterThanOrEqual(100);
    p.msgctl(q.id, IPC_RMID);
    for (const outcome of await Promise.all(receives)) expect((outcome as IpcError).code).toBe('EIDRM');
  });

  it('reuses idle threads and retires them after 5 s idle', async () => {
    const raw = loadAddon();
    const p = self();
    using q = queue();
    const threads = raw.stats().threads;
    const pending = p.msgrcv(q.id, 8, 0);
    await untilSleeping(SYS.msgrcv, q.id, 1);
    p.msgsndSync(q.id, 1, bytes('x'));
    await pending;
    // An idle thread took the call: none was added.
    expect(raw.stats().threads).toBe(Math.max(threads, 1));
    await new Promise((r) => setTimeout(r, 5600));
    expect(raw.stats()).toMatchObject({ threads: 0, idle: 0, pending: 0 });
  }, 15_000);

  it('leaves ipcs -q as it found it (no queue of this file left behind)', () => {
    expect(leakedSince(before)).toEqual([]);
  });
});
