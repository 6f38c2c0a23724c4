/**
 * semget and semop on the emulator: the argument rules the scenarios do not
 * pin (how JavaScript values reach struct sembuf, semopSync, semtimedop's
 * timeout forms, the single-op and packed paths answering alike), and bad
 * input: an IpcError with Linux's errno, nothing applied, nothing trapped
 * (each test runs on the debug build too, whose assertions would trap).
 */

import { describe, expect, it } from 'vitest';
import type { Emulator, SemBuf, SimProcess } from '../../host/api.js';
import {
  GETALL, GETNCNT, GETPID, GETVAL, IPC_CREAT, IPC_NOWAIT, IPC_PRIVATE, IPC_RMID, IPC_STAT, SEM_UNDO, SETALL, SETVAL,
} from '../../host/constants.js';
import { IpcError } from '../../host/errors.js';
import { emulatorUsage } from '../../host/emu/index.js';
import { BUILDS, expectErrno, expectRejects, kernel, pending, thrown, turn, user } from './helpers.js';

function set(p: SimProcess, nsems: number, mode = 0o666): number {
  return p.semget(IPC_PRIVATE, nsems, IPC_CREAT | mode);
}

function values(p: SimProcess, s: number): number[] {
  return p.semctl(s, 0, GETALL);
}

/** Removes the sets, then checks that nothing sleeps in the core or is waited on by the host. */
function done(k: Emulator, p: SimProcess, ...sets: number[]): void {
  for (const s of sets) p.semctl(s, 0, IPC_RMID);
  const usage = emulatorUsage(k);
  expect(usage.sleeping).toBe(0);
  expect(usage.pending).toBe(0);
}

describe.each(BUILDS)('semget and semop (%s build)', (build) => {
  it('one op and several ops take the same path through the checks: same answers, same values', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 2);
    // the single-op path (arguments) and the packed path (struct sembuf in memory)
    root.semopSync(s, [[1, 5]]);
    root.semopSync(s, [[1, -2], [0, 0]]);
    expect(values(root, s)).toEqual([0, 3]);
    for (const ops of [[[2, 1]], [[0, 0], [2, 1]]] as SemBuf[][]) expectErrno(() => root.semopSync(s, ops), 'EFBIG');
    for (const ops of [[[0, -1]], [[0, -1], [1, 0]]] as SemBuf[][]) expectErrno(() => root.semopSync(s, ops), 'EAGAIN');
    for (const ops of [[[1, 32765]], [[0, 0], [1, 32765]]] as SemBuf[][]) expectErrno(() => root.semopSync(s, ops), 'ERANGE');
    expect(values(root, s)).toEqual([0, 3]);
    expect(root.semctl(s, 1, GETPID)).toBe(root.pid);
    done(k, root, s);
  });

  it('sem_num, sem_op and sem_flg are stored as C stores an int in unsigned short / short fields', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 2);
    // sem_num -1 is 65535: EFBIG, not EINVAL; 65536 is semaphore 0
    expectErrno(() => root.semopSync(s, [[-1, 1]]), 'EFBIG');
    expectErrno(() => root.semopSync(s, [[0, 0], [-1, 1]]), 'EFBIG');
    root.semopSync(s, [[65536, 3]]);
    root.semopSync(s, [[65537, 1], [65536, -1]]);
    expect(values(root, s)).toEqual([2, 1]);
    // sem_op 65535 is -1, 32768 is -32768
    root.semopSync(s, [[0, 65535]]);
    root.semopSync(s, [[0, 65535], [1, 65535]]);
    expect(values(root, s)).toEqual([0, 0]);
    root.semopSync(s, [[0, 1]]);
    expectErrno(() => root.semopSync(s, [[0, 32768]]), 'EAGAIN');
    // sem_flg 0x10000 | IPC_NOWAIT keeps IPC_NOWAIT only
    await expectRejects(root.semop(s, [[1, -1, 0x10000 | IPC_NOWAIT]]), 'EAGAIN');
    await expectRejects(root.semop(s, [[1, 0], [1, -1, 0x10000 | IPC_NOWAIT]]), 'EAGAIN');
    // a third field left undefined is 0
    root.semopSync(s, [[1, 1, undefined]] as unknown as SemBuf[]);
    root.semopSync(s, [[1, -1, undefined], [0, -1, undefined]] as unknown as SemBuf[]);
    expect(values(root, s)).toEqual([0, 0]);
    done(k, root, s);
  });

  it('arguments JavaScript cannot hand to C are TypeError or RangeError, and nothing is applied', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 1);
    const bad: [unknown, ErrorConstructor][] = [
      [undefined, TypeError],
      ['[[0, 1]]', TypeError],
      [[[0]], TypeError],
      [[[0, 1, 0, 0]], TypeError],
      [[0, 1, 0], TypeError],
      [[[0, 1.5]], TypeError],
      [[[0, Number.NaN]], TypeError],
      [[['0', 1]], TypeError],
      [[[0, 1n]], TypeError],
      [[[2 ** 31, 1]], RangeError],
      [[[0, 1, -(2 ** 31) - 1]], RangeError],
      [[[0, 1], [0, 1, 'IPC_NOWAIT']], TypeError],
      [[[0, 1], null], TypeError],
    ];
    for (const [ops, type] of bad) {
      expect(thrown(() => root.semopSync(s, ops as SemBuf[])), JSON.stringify(String(ops))).toBeInstanceOf(type);
      const error = await root.semop(s, ops as SemBuf[]).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(type);
    }
    expect(thrown(() => root.semopSync(1.5, [[0, 1]]))).toBeInstanceOf(TypeError);
    expect(thrown(() => root.semopSync(2 ** 32, [[0, 1]]))).toBeInstanceOf(RangeError);
    expect(values(root, s)).toEqual([0]);
    expect(root.semctl(s, 0, IPC_STAT).sem_otime).toBe(0);
    done(k, root, s);
  });

  it('an empty op array is EINVAL and one of more than semopm ops E2BIG, before the id is looked up', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 1);
    expectErrno(() => root.semopSync(s, []), 'EINVAL');
    expectErrno(() => root.semopSync(-1, []), 'EINVAL');
    const many = Array.from({ length: 501 }, (): SemBuf => [0, 1]);
    expectErrno(() => root.semopSync(s, many), 'E2BIG');
    expectErrno(() => root.semopSync(-1, many), 'E2BIG');
    expectErrno(() => root.semopSync(s + 1, many), 'E2BIG');
    await expectRejects(root.semtimedop(s, many, { sec: -1, nsec: 0 }), 'E2BIG');
    // 500 increments of one: applied in sequence
    root.semopSync(s, many.slice(0, 500));
    expect(root.semctl(s, 0, GETVAL)).toBe(500);
    done(k, root, s);
  });

  it('semopSync adds IPC_NOWAIT to every op: a later op that would sleep is EAGAIN too, and nothing is applied', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 2);
    root.semctl(s, 0, SETALL, [1, 0]);
    expectErrno(() => root.semopSync(s, [[0, -1], [1, -1]]), 'EAGAIN');
    expectErrno(() => root.semopSync(s, [[0, 0]]), 'EAGAIN');
    expect(values(root, s)).toEqual([1, 0]);
    expect(root.semctl(s, 1, GETNCNT)).toBe(0);
    // the same call through semop sleeps, counted where it blocks
    const sleeping = root.semop(s, [[0, -1], [1, -1]]);
    await turn();
    expect(root.semctl(s, 1, GETNCNT)).toBe(1);
    root.semopSync(s, [[1, 1]]);
    await sleeping;
    expect(values(root, s)).toEqual([0, 0]);
    done(k, root, s);
  });

  it('semtimedop takes milliseconds, a raw timespec of numbers or bigints, or null; a malformed one is EINVAL even when it need not sleep', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 1);
    await root.semtimedop(s, [[0, 1]], null);
    await root.semtimedop(s, [[0, 1]], 0);
    await root.semtimedop(s, [[0, 1]], { sec: 5n, nsec: 999_999_999n });
    await root.semtimedop(s, [[0, 1]], { sec: 2 ** 53 - 1, nsec: 0 });
    await root.semtimedop(s, [[0, 1]], { sec: (1n << 63n) - 1n, nsec: 0n });
    expect(root.semctl(s, 0, GETVAL)).toBe(5);
    for (const t of [-1, -0.5, { sec: -1, nsec: 0 }, { sec: 0, nsec: -1 }, { sec: 0, nsec: 1e9 }, { sec: -(1n << 63n), nsec: 0n }]) {
      // the single-op path and the packed path alike
      await expectRejects(root.semtimedop(s, [[0, 1]], t), 'EINVAL');
      await expectRejects(root.semtimedop(s, [[0, 1], [0, 0]], t), 'EINVAL');
      // E2BIG and an empty array come first; the id after it
      await expectRejects(root.semtimedop(s, [], t), 'EINVAL');
      await expectRejects(root.semtimedop(s + 1, [[0, 1]], t), 'EINVAL');
    }
    expect(root.semctl(s, 0, GETVAL)).toBe(5);
    for (const [t, type] of [[Number.NaN, TypeError], [Infinity, RangeError], ['10', TypeError], [{ sec: 1.5, nsec: 0 }, TypeError],
      [{ sec: 1 }, TypeError], [{ sec: 1n << 63n, nsec: 0 }, RangeError]] as [unknown, ErrorConstructor][]) {
      const error = await root.semtimedop(s, [[0, 1]], t as number).then(() => undefined, (e: unknown) => e);
      expect(error, String(t)).toBeInstanceOf(type);
    }
    expect(root.semctl(s, 0, GETVAL)).toBe(5);
    done(k, root, s);
  });

  it('a timeout fails a sleeping semtimedop with EAGAIN: its own or the call option\'s, whichever is shorter', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 1);
    await expectRejects(root.semtimedop(s, [[0, -1]], 20), 'EAGAIN');
    await expectRejects(root.semtimedop(s, [[0, -1]], { sec: 0, nsec: 20_000_000 }), 'EAGAIN');
    await expectRejects(root.semtimedop(s, [[0, -1]], 60_000, { timeout: 10 }), 'EAGAIN');
    await expectRejects(root.semtimedop(s, [[0, -1]], 10, { timeout: 60_000 }), 'EAGAIN');
    await expectRejects(root.semtimedop(s, [[0, -1]], null, { timeout: 10 }), 'EAGAIN');
    await expectRejects(root.semop(s, [[0, 0], [0, -1]], { timeout: 10 }), 'EAGAIN');
    expect(root.semctl(s, 0, GETNCNT)).toBe(0);
    done(k, root, s);
  });

  it('a timeout longer than one timer can wait is armed in steps on the clock', async () => {
    let now = 1_700_000_000_000;
    const timers: { at: number; fn: () => void }[] = [];
    const clock = {
      now: () => now,
      setTimer: (ms: number, fn: () => void) => { const t = { at: now + ms, fn }; timers.push(t); return t; },
      clearTimer: (t: unknown) => { const i = timers.indexOf(t as { at: number; fn: () => void }); if (i >= 0) timers.splice(i, 1); },
    };
    // time moves timer by timer, so a timer armed by another fires at its own time
    const advance = (ms: number): void => {
      const target = now + ms;
      for (;;) {
        const due = timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at)[0];
        if (due === undefined) break;
        timers.splice(timers.indexOf(due), 1);
        now = due.at;
        due.fn();
      }
      now = target;
    };
    const { k, root } = await kernel(build, { clock });
    const s = set(root, 1);
    const day = 86_400_000;
    const call = root.semtimedop(s, [[0, -1]], { sec: 60 * 86_400, nsec: 0 });
    await turn();
    expect(Math.max(...timers.map((t) => t.at - now))).toBeLessThanOrEqual(2 ** 31 - 1);
    advance(59 * day);
    expect(await pending(call)).toBe(true);
    advance(day);
    await expectRejects(call, 'EAGAIN');
    expect(timers).toEqual([]);
    done(k, root, s);
  });

  it('an abort interrupts a sleeping semop with EINTR carrying the reason; an aborted signal fails only a call that would sleep', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 2);
    const ac = new AbortController();
    const call = root.semop(s, [[0, -1], [1, 1]], { signal: ac.signal });
    await turn();
    ac.abort(new Error('stop'));
    const error = await expectRejects(call, 'EINTR');
    expect((error.cause as Error).message).toBe('stop');
    expect(error.syscall).toBe('semop');
    // already aborted: a call that can proceed does
    await root.semop(s, [[1, 1]], { signal: ac.signal });
    await expectRejects(root.semtimedop(s, [[0, -1]], 1000, { signal: ac.signal }), 'EINTR');
    expect(values(root, s)).toEqual([0, 1]);
    done(k, root, s);
  });

  it('errors name the call: semop, semtimedop, semget', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 1);
    expect((thrown(() => root.semopSync(s, [[0, -1]])) as IpcError).syscall).toBe('semop');
    expect((await root.semtimedop(s, [[0, -1, IPC_NOWAIT]], 10).catch((e: unknown) => e) as IpcError).syscall).toBe('semtimedop');
    expect((thrown(() => root.semget(12345, 1, 0)) as IpcError).syscall).toBe('semget');
    done(k, root, s);
  });

  it('semget: nsems is a C int (TypeError, RangeError), checked for range before the key (EINVAL)', async () => {
    const { k, root } = await kernel(build);
    expect(thrown(() => root.semget(IPC_PRIVATE, 1.5, IPC_CREAT))).toBeInstanceOf(TypeError);
    expect(thrown(() => root.semget(IPC_PRIVATE, 2 ** 31, IPC_CREAT))).toBeInstanceOf(RangeError);
    expectErrno(() => root.semget(IPC_PRIVATE, -1, IPC_CREAT), 'EINVAL');
    expectErrno(() => root.semget(77, 32001, 0), 'EINVAL');
    expectErrno(() => root.semget(77, 1, 0), 'ENOENT');
    const s = root.semget(77, 3, IPC_CREAT | 0o640);
    expect(root.semget(77, 0, 0)).toBe(s);
    expectErrno(() => root.semget(77, 4, 0), 'EINVAL');
    const other = user(k);
    expectErrno(() => other.semget(77, 4, 0o400), 'EINVAL');
    expectErrno(() => other.semget(77, 3, 0o400), 'EACCES');
    expect(other.semget(77, 3, 0)).toBe(s);
    done(k, root, s);
  });

  it('SEM_UNDO on a failed call still records an (empty) undo entry, whose exit stamps sem_otime, as Linux does', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 1);
    const p = k.spawn();
    expectErrno(() => p.semopSync(s, [[0, -1, SEM_UNDO]]), 'EAGAIN');
    expect(root.semctl(s, 0, IPC_STAT).sem_otime).toBe(0);
    await p.exit();
    expect(root.semctl(s, 0, IPC_STAT).sem_otime).toBeGreaterThan(0);
    expect(root.semctl(s, 0, GETPID)).toBe(0);
    done(k, root, s);
  });

  it('SETVAL in the middle of many sleepers keeps every value in range and every call answered once', async () => {
    const { k, root } = await kernel(build);
    const s = set(root, 3);
    const procs = Array.from({ length: 12 }, () => k.spawn());
    const calls = procs.map((p, i) =>
      p.semop(s, i % 3 === 0 ? [[i % 3, -1]] : i % 3 === 1 ? [[0, -1], [1, 0], [2, 1]] : [[2, -2, SEM_UNDO], [0, 0]]).then(() => 'ok', (e: IpcError) => e.code));
    await turn();
    for (let v = 0; v < 6; v++) {
      root.semctl(s, v % 3, SETVAL, v);
      await turn();
      for (const x of values(root, s)) expect(x).toBeGreaterThanOrEqual(0);
    }
    root.semctl(s, 0, IPC_RMID);
    const results = await Promise.all(calls);
    for (const r of results) expect(['ok', 'EIDRM']).toContain(r);
    for (const p of procs) await p.exit();
    const usage = emulatorUsage(k);
    expect(usage.sleeping).toBe(0);
    expect(usage.pending).toBe(0);
  });
});
