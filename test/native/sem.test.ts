/**
 * The native backend's semaphore calls on the real kernel: semget's rules,
 * every semctl command, semopSync (IPC_NOWAIT added), the blocking semop and
 * semtimedop on the addon's threads with their cancellation, SEM_UNDO at a
 * child's exit, the errors by code, and bad arguments refused before the
 * kernel. Timing is only ever bounded by a generous watchdog.
 */

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import type { Process, SemBuf } from '../../host/api.js';
import {
  GETALL, GETNCNT, GETPID, GETVAL, GETZCNT, IPC_CREAT, IPC_EXCL, IPC_INFO, IPC_NOWAIT, IPC_PRIVATE, IPC_RMID,
  IPC_SET, IPC_STAT, SEM_INFO, SEM_STAT, SEM_STAT_ANY, SEM_UNDO, SETALL, SETVAL,
} from '../../host/constants.js';
import { IpcError } from '../../host/errors.js';
import { runChild } from './child.js';
import { native, randomKey, rejectsWith, self, throwsWith, titled, untilSleeping } from './helpers.js';

/** x86_64 semtimedop (syscall_64.tbl): every semop of the addon sleeps in it. */
const SYS_SEMTIMEDOP = 220;
const WATCHDOG_MS = 1000;

/** Every semid this file made, removed or not: the ledger checks each is gone. */
const made = new Set<number>();

/** Semaphore set ids in `ipcs -s`. */
function ipcsSets(): Set<number> {
  const out = new Set<number>();
  for (const line of execFileSync('ipcs', ['-s'], { encoding: 'utf8' }).split('\n')) {
    const m = /^0x[0-9a-f]+\s+(\d+)\s/i.exec(line);
    if (m) out.add(Number(m[1]));
  }
  return out;
}

/** A fresh private set of `nsems` semaphores that removes itself at the end of its `using` block. */
function semSet(nsems: number, mode = 0o600, p: Process = self()): { id: number } & Disposable {
  const id = p.semget(IPC_PRIVATE, nsems, IPC_CREAT | mode);
  made.add(id);
  return {
    id,
    [Symbol.dispose]() {
      try {
        p.semctl(id, 0, IPC_RMID);
      } catch (error) {
        if (!(error instanceof IpcError && error.code === 'EINVAL')) throw error;
      }
    },
  };
}

/** Resolves once `count` of our threads sleep in semtimedop on `semid`. */
function untilAsleep(semid: number, count: number): Promise<void> {
  return untilSleeping(SYS_SEMTIMEDOP, semid, count);
}

/** Resolves once a process sleeps in a P on semaphore 0 of `semid` (GETNCNT counts it); fails if `child` ends first. */
async function untilSleepingIn(child: Promise<unknown>, semid: number): Promise<void> {
  let ended = false;
  void child.then(() => { ended = true; });
  const deadline = Date.now() + 5000;
  while (self().semctl(semid, 0, GETNCNT) === 0) {
    if (ended || Date.now() > deadline) throw new Error(`no process asleep on semaphore 0 of ${semid}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A small deterministic generator (mulberry32), so that a fuzz failure replays from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function detached<T extends ArrayBufferView>(view: T): T {
  structuredClone(view.buffer, { transfer: [view.buffer as ArrayBuffer] });
  return view;
}

/** What the raw semaphore functions may be handed: every kind of value, numbers at C's edges, sembuf arrays. */
function junk(): unknown[] {
  const ops = (...triples: number[]) => Int16Array.from(triples);
  return [
    undefined, null, true, '', '1', {}, [], [1, 2], () => 1, Symbol('s'), { valueOf: () => 1 },
    new Proxy({}, { get() { throw new Error('trap'); } }),
    NaN, Infinity, -0, 0.5, -1.5, 1e300, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 53, 2 ** 63,
    0n, 1n, -1n, 2n ** 63n, -(2n ** 63n) - 1n, 2n ** 64n,
    new Int16Array(0), new Int16Array(3), new Int16Array(2), new Int16Array(3 * 600),
    ops(0, 1, 0), ops(0, -1, 0), ops(0, -1, 0x800), ops(0, 0, 0), ops(0, 1, 0x1000), ops(-1, 1, 0),
    ops(1, -2, 0, 0, 1, 0x1800), ops(0, 32767, 0), new Int16Array(new SharedArrayBuffer(12)),
    detached(new Int16Array(6)), new Uint16Array(0), new Uint16Array(1), new Uint16Array(2), new Uint16Array(40000),
    Uint16Array.from([65535, 1]), new Uint8Array(6), new Float64Array(0), new Float64Array(16), new Float64Array(64),
    Float64Array.from({ length: 16 }, () => -1), Float64Array.from({ length: 16 }, () => 2 ** 40),
    Float64Array.from({ length: 16 }, () => 1.5), detached(new Float64Array(16)),
  ];
}

/** The outcome of `promise`, failing if it does not settle within the watchdog. */
async function settled<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const watchdog = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within the ${WATCHDOG_MS} ms watchdog`)), WATCHDOG_MS);
  });
  try {
    return await Promise.race([promise.then((value) => ({ value }), (error: unknown) => ({ error })), watchdog]);
  } finally {
    clearTimeout(timer);
  }
}

describe.skipIf(native.unavailable !== undefined)(titled('native semaphore sets'), () => {
  afterAll(() => {
    // Every set this file made is gone from the kernel (ipcs -s).
    const left = ipcsSets();
    expect([...made].filter((id) => left.has(id))).toEqual([]);
  });

  it('semget creates, finds and refuses as Linux does, nsems rules included', () => {
    const p = self();
    const k = randomKey();
    throwsWith(() => p.semget(k, 1, 0), 'ENOENT');
    // nsems < 0 or > semmsl is EINVAL before the key is looked up (ENOENT otherwise).
    throwsWith(() => p.semget(k, -1, 0), 'EINVAL');
    throwsWith(() => p.semget(k, 32001, 0), 'EINVAL');
    throwsWith(() => p.semget(k, 0, IPC_CREAT | 0o600), 'EINVAL');
    const id = p.semget(k, 3, IPC_CREAT | IPC_EXCL | 0o640);
    made.add(id);
    try {
      throwsWith(() => p.semget(k, 3, IPC_CREAT | IPC_EXCL | 0o600), 'EEXIST');
      expect(p.semget(k, 0, 0)).toBe(id);
      expect(p.semget(k, 2, 0)).toBe(id);
      throwsWith(() => p.semget(k, 4, 0), 'EINVAL');
      expect(p.semctl(id, 0, IPC_STAT)).toMatchObject({
        sem_nsems: 3, sem_otime: 0, sem_perm: { key: k, mode: 0o640, uid: process.getuid!(), cuid: process.getuid!() },
      });
      using a = semSet(1);
      using b = semSet(1);
      expect(a.id).not.toBe(b.id);
    } finally {
      p.semctl(id, 0, IPC_RMID);
    }
    throwsWith(() => p.semget(k, 1, 0), 'ENOENT');
  });

  it('semctl: SETVAL, GETVAL, GETALL, SETALL, GETPID, GETNCNT, GETZCNT round trip', () => {
    const p = self();
    using s = semSet(3);
    expect(p.semctl(s.id, 0, GETALL)).toEqual([0, 0, 0]);
    expect(p.semctl(s.id, 1, GETPID)).toBe(0);
    expect(p.semctl(s.id, 1, SETVAL, 7)).toBe(0);
    expect(p.semctl(s.id, 1, GETVAL)).toBe(7);
    expect(p.semctl(s.id, 1, GETPID)).toBe(process.pid);
    expect(p.semctl(s.id, 0, SETALL, [1, 2, 32767])).toBe(0);
    expect(p.semctl(s.id, 2, GETALL)).toEqual([1, 2, 32767]);
    expect(p.semctl(s.id, 0, GETNCNT)).toBe(0);
    expect(p.semctl(s.id, 0, GETZCNT)).toBe(0);
    // SETALL takes unsigned shorts: 65536 is 0, -1 is 65535 (above semvmx: ERANGE, nothing set).
    expect(p.semctl(s.id, 0, SETALL, [65536, 65537, 3])).toBe(0);
    expect(p.semctl(s.id, 0, GETALL)).toEqual([0, 1, 3]);
    throwsWith(() => p.semctl(s.id, 0, SETALL, [5, -1, 5]), 'ERANGE');
    throwsWith(() => p.semctl(s.id, 0, SETVAL, 32768), 'ERANGE');
    throwsWith(() => p.semctl(s.id, 0, SETVAL, -1), 'ERANGE');
    expect(p.semctl(s.id, 0, GETALL)).toEqual([0, 1, 3]);
    // Exactly nsems values: anything else is the caller's bug, refused before the kernel.
    expect(() => p.semctl(s.id, 0, SETALL, [1, 2])).toThrow(RangeError);
    expect(() => p.semctl(s.id, 0, SETALL, [1, 2, 3, 4])).toThrow(RangeError);
    expect(p.semctl(s.id, 0, GETALL)).toEqual([0, 1, 3]);
    // semnum outside the set: EINVAL, except for GETALL and SETALL, which ignore it.
    throwsWith(() => p.semctl(s.id, 3, GETVAL), 'EINVAL');
    throwsWith(() => p.semctl(s.id, -1, SETVAL, 1), 'EINVAL');
    expect(p.semctl(s.id, 99, GETALL)).toEqual([0, 1, 3]);
  });

  it('semctl: IPC_STAT, IPC_SET (fields left out kept), SEM_STAT, SEM_STAT_ANY, IPC_INFO, SEM_INFO, IPC_RMID', () => {
    const p = self();
    const s = semSet(2, 0o640);
    const before = p.semctl(s.id, 0, IPC_STAT);
    expect(before.sem_ctime).toBeGreaterThan(0);
    expect(p.semctl(s.id, 0, IPC_SET, { mode: 0o7604 })).toBe(0);
    // Only the low nine bits are taken; uid and gid were kept.
    expect(p.semctl(s.id, 0, IPC_STAT).sem_perm).toMatchObject({ mode: 0o604, uid: before.sem_perm.uid, gid: before.sem_perm.gid });
    expect(p.semctl(s.id, 0, IPC_SET, { uid: 1234, gid: 4321 })).toBe(0);
    expect(p.semctl(s.id, 0, IPC_STAT).sem_perm).toMatchObject({ mode: 0o604, uid: 1234, gid: 4321, cuid: process.getuid!() });
    // (uid_t)-1 reaches the kernel, which answers EINVAL.
    throwsWith(() => p.semctl(s.id, 0, IPC_SET, { uid: -1 }), 'EINVAL');
    expect(() => p.semctl(s.id, 0, IPC_SET, undefined as never)).toThrow(TypeError);

    const index = s.id & 0x7fff;
    const stat = p.semctl(index, 0, SEM_STAT);
    expect(stat.result).toBe(s.id);
    expect(stat).toMatchObject({ sem_nsems: 2, sem_perm: { uid: 1234, gid: 4321, mode: 0o604 } });
    expect(p.semctl(index, 0, SEM_STAT_ANY).result).toBe(s.id);

    const limits = p.semctl(0, 0, IPC_INFO);
    expect(limits).toMatchObject({ semmsl: 32000, semopm: 500, semvmx: 32767, semusz: 20, semaem: 32767 });
    expect(limits.result).toBeGreaterThanOrEqual(index);
    const usage = p.semctl(0, 0, SEM_INFO);
    expect(usage.semusz).toBeGreaterThanOrEqual(1);
    expect(usage.semaem).toBeGreaterThanOrEqual(2);

    // A command number goes to the kernel as it is; IPC_64 set on a known command is that command.
    throwsWith(() => p.semctl(s.id, 0, 99), 'EINVAL');
    throwsWith(() => p.semctl(s.id, 0, -5), 'EINVAL');
    expect(p.semctl(s.id, 0, GETALL | 0x100)).toEqual([0, 0]);
    expect(p.semctl(s.id, 0, IPC_STAT | 0x100)).toMatchObject({ sem_nsems: 2 });

    expect(p.semctl(s.id, 0, IPC_RMID)).toBe(0);
    for (const cmd of [IPC_STAT, GETVAL, GETALL, IPC_RMID]) throwsWith(() => p.semctl(s.id, 0, cmd), 'EINVAL');
    throwsWith(() => p.semctl(s.id, 0, SETALL, [1, 2]), 'EINVAL');
    throwsWith(() => p.semctl(-1, 0, IPC_INFO), 'EINVAL');
  });

  it('semopSync applies all operations or none, and never sleeps', () => {
    const p = self();
    using s = semSet(2);
    p.semopSync(s.id, [[0, 2], [1, 1, 0]]);
    expect(p.semctl(s.id, 0, GETALL)).toEqual([2, 1]);
    // The second operation cannot proceed: EAGAIN (IPC_NOWAIT implied) and the first is not applied.
    throwsWith(() => p.semopSync(s.id, [[0, -1], [1, -2]]), 'EAGAIN');
    throwsWith(() => p.semopSync(s.id, [[1, 0]]), 'EAGAIN');
    expect(p.semctl(s.id, 0, GETALL)).toEqual([2, 1]);
    // Operations on one semaphore apply in sequence.
    p.semopSync(s.id, [[0, 1], [0, -3]]);
    expect(p.semctl(s.id, 0, GETVAL)).toBe(0);
    p.semopSync(s.id, [[0, 0]]);
    throwsWith(() => p.semopSync(s.id, [[1, 32767]]), 'ERANGE');
    expect(p.semctl(s.id, 1, GETVAL)).toBe(1);
    expect(p.semctl(s.id, 0, IPC_STAT).sem_otime).toBeGreaterThan(0);
    expect(p.semctl(s.id, 1, GETPID)).toBe(process.pid);
  });

  it('semop errors by code: E2BIG (before the id), EINVAL, EFBIG', async () => {
    const p = self();
    using s = semSet(1);
    const many: SemBuf[] = Array.from({ length: 501 }, () => [0, 0]);
    throwsWith(() => p.semopSync(s.id, many), 'E2BIG');
    // E2BIG is checked before the id.
    throwsWith(() => p.semopSync(-1, many), 'E2BIG');
    throwsWith(() => p.semopSync(s.id, []), 'EINVAL');
    throwsWith(() => p.semopSync(-1, [[0, 1]]), 'EINVAL');
    throwsWith(() => p.semopSync(s.id + 0x8000, [[0, 1]]), 'EINVAL');
    throwsWith(() => p.semopSync(s.id, [[1, 1]]), 'EFBIG');
    await rejectsWith(p.semop(s.id, [[1, -1]]), 'EFBIG');
    await rejectsWith(p.semtimedop(s.id, [], 10), 'EINVAL');
    // 500 operations are fine (semopm), through the heap copy too.
    p.semopSync(s.id, Array.from({ length: 500 }, (): SemBuf => [0, 1]));
    expect(p.semctl(s.id, 0, GETVAL)).toBe(500);
  });

  it('sembuf fields are C ints converted as C stores them into the struct: their low 16 bits', () => {
    const p = self();
    using s = semSet(1);
    // sem_num -1 is 65535 (unsigned short): EFBIG, not a JavaScript error.
    throwsWith(() => p.semopSync(s.id, [[-1, 1]]), 'EFBIG');
    // sem_num 65536 is 0.
    p.semopSync(s.id, [[65536, 5]]);
    // sem_op 65535 is -1; 65536 + 2 is 2.
    p.semopSync(s.id, [[0, 65535]]);
    p.semopSync(s.id, [[0, 65538]]);
    expect(p.semctl(s.id, 0, GETVAL)).toBe(6);
    // sem_flg 0x10000 | IPC_NOWAIT keeps IPC_NOWAIT.
    throwsWith(() => p.semopSync(s.id, [[0, -7, 0x10000 | IPC_NOWAIT]]), 'EAGAIN');
    // What cannot be a C int is refused before the kernel; nothing is applied.
    expect(() => p.semopSync(s.id, [[0, 1.5]])).toThrow(TypeError);
    expect(() => p.semopSync(s.id, [[0, 2 ** 31]])).toThrow(RangeError);
    expect(() => p.semopSync(s.id, [[0, '1' as never]])).toThrow(TypeError);
    expect(() => p.semopSync(s.id, [[0]] as never)).toThrow(TypeError);
    expect(() => p.semopSync(s.id, [[0, 1, 0, 0]] as never)).toThrow(TypeError);
    expect(() => p.semopSync(s.id, {} as never)).toThrow(TypeError);
    expect(() => p.semopSync(s.id, [[0, 1], null] as never)).toThrow(TypeError);
    expect(() => p.semopSync(1.5, [[0, 1]])).toThrow(TypeError);
    expect(() => p.semctl(s.id, 0, SETVAL, 2 ** 31)).toThrow(RangeError);
    expect(() => p.semctl(s.id, 0, SETALL, [0.5])).toThrow(TypeError);
    expect(() => p.semctl(s.id, 0, SETALL, 5 as never)).toThrow(TypeError);
    // No array at all is C's NULL: the kernel's EFAULT, after its id check.
    throwsWith(() => p.semctl(s.id, 0, SETALL, undefined as never), 'EFAULT');
    throwsWith(() => p.semctl(-1, 0, SETALL, null as never), 'EINVAL');
    expect(p.semctl(s.id, 0, GETVAL)).toBe(6);
  });

  it('a blocking P sleeps on a thread of its own until a second call\'s V; the waker applies it', async () => {
    const p = self();
    using s = semSet(1);
    let done = false;
    const taken = p.semop(s.id, [[0, -2]]).then(() => { done = true; });
    await untilAsleep(s.id, 1);
    expect(done).toBe(false);
    expect(p.semctl(s.id, 0, GETNCNT)).toBe(1);
    p.semopSync(s.id, [[0, 1]]);
    expect(p.semctl(s.id, 0, GETVAL)).toBe(1);
    // A V from another blocking call (it need not sleep): the sleeper's P is applied before it returns.
    await p.semop(s.id, [[0, 1]]);
    expect(p.semctl(s.id, 0, GETVAL)).toBe(0);
    expect(await settled(taken)).toEqual({ value: undefined });
    expect(p.semctl(s.id, 0, GETNCNT)).toBe(0);
    // A wait-for-zero sleeper, counted in GETZCNT, woken when the value reaches 0.
    p.semctl(s.id, 0, SETVAL, 1);
    const zero = p.semtimedop(s.id, [[0, 0]], null);
    await untilAsleep(s.id, 1);
    expect(p.semctl(s.id, 0, GETZCNT)).toBe(1);
    p.semopSync(s.id, [[0, -1]]);
    expect(await settled(zero)).toEqual({ value: undefined });
  });

  it('a blocking P is woken by a V from a child process', async () => {
    const p = self();
    using s = semSet(1);
    const taken = p.semop(s.id, [[0, -1]]);
    await untilAsleep(s.id, 1);
    const child = await runChild(`
      const me = openNative().self();
      const id = Number(process.argv[2]);
      me.semopSync(id, [[0, 1]]);
      console.log('V done');
    `, { args: [String(s.id)] });
    expect(child).toMatchObject({ code: 0, stdout: 'V done\n', stderr: '' });
    expect(await settled(taken)).toEqual({ value: undefined });
    expect(p.semctl(s.id, 0, GETVAL)).toBe(0);
    // The child applied our P for us: the last operation on the semaphore is ours.
    expect(p.semctl(s.id, 0, GETPID)).toBe(process.pid);
  });

  it('an abort ends a sleeping semop with EINTR carrying signal.reason; it leaves the line', async () => {
    const p = self();
    using s = semSet(1);
    for (let round = 0; round < 10; round++) {
      const controller = new AbortController();
      const pending = p.semop(s.id, [[0, -1]], { signal: controller.signal });
      await untilAsleep(s.id, 1);
      const reason = new Error(`stop ${round}`);
      controller.abort(reason);
      const { error } = await settled(pending);
      expect(error).toBeInstanceOf(IpcError);
      expect(error).toMatchObject({ code: 'EINTR', syscall: 'semop', cause: reason });
      expect(p.semctl(s.id, 0, GETNCNT)).toBe(0);
    }
    // An already aborted signal fails only a call that would sleep.
    const gone = AbortSignal.abort('already');
    expect((await rejectsWith(p.semtimedop(s.id, [[0, -1]], 5000, { signal: gone }), 'EINTR')).cause).toBe('already');
    await p.semop(s.id, [[0, 1]], { signal: gone });
    expect(p.semctl(s.id, 0, GETVAL)).toBe(1);
    // With IPC_NOWAIT on every operation nothing would sleep: EAGAIN, not EINTR.
    await rejectsWith(p.semop(s.id, [[0, -2, IPC_NOWAIT]], { signal: gone }), 'EAGAIN');
  });

  it('timeouts: the `timeout` option and semtimedop\'s own both end a sleep with EAGAIN', async () => {
    const p = self();
    using s = semSet(1);
    await rejectsWith(p.semop(s.id, [[0, -1]], { timeout: 20 }), 'EAGAIN');
    await rejectsWith(p.semop(s.id, [[0, -1]], { timeout: 0 }), 'EAGAIN');
    await rejectsWith(p.semtimedop(s.id, [[0, -1]], 20), 'EAGAIN');
    await rejectsWith(p.semtimedop(s.id, [[0, -1]], { sec: 0, nsec: 20_000_000 }), 'EAGAIN');
    await rejectsWith(p.semtimedop(s.id, [[0, -1]], { sec: 0n, nsec: 0n }), 'EAGAIN');
    expect(p.semctl(s.id, 0, GETNCNT)).toBe(0);
    // A call that need not sleep ignores either.
    p.semopSync(s.id, [[0, 1]]);
    await p.semtimedop(s.id, [[0, -1]], 0);
    await p.semop(s.id, [[0, 1]], { timeout: 0 });
    expect(p.semctl(s.id, 0, GETVAL)).toBe(1);
    // A long one, woken well before it expires.
    const long = p.semtimedop(s.id, [[0, -2]], { sec: 2n ** 40n, nsec: 0 });
    await untilAsleep(s.id, 1);
    p.semopSync(s.id, [[0, 1]]);
    expect(await settled(long)).toEqual({ value: undefined });
  });

  it('semtimedop: a malformed timespec is EINVAL even when the call would not sleep, before EFBIG', async () => {
    const p = self();
    using s = semSet(1);
    await rejectsWith(p.semtimedop(s.id, [[0, 1]], { sec: -1, nsec: 0 }), 'EINVAL');
    await rejectsWith(p.semtimedop(s.id, [[0, 0]], { sec: 0, nsec: -1 }), 'EINVAL');
    await rejectsWith(p.semtimedop(s.id, [[0, 1, IPC_NOWAIT]], { sec: 1, nsec: 1_000_000_000 }), 'EINVAL');
    await rejectsWith(p.semtimedop(s.id, [[5, 1]], { sec: -1n, nsec: 0 }), 'EINVAL');
    // A negative number of milliseconds is a negative timespec too.
    await rejectsWith(p.semtimedop(s.id, [[0, 1]], -1), 'EINVAL');
    expect(p.semctl(s.id, 0, GETVAL)).toBe(0);
    await p.semtimedop(s.id, [[0, 1]], { sec: 0, nsec: 999_999_999 });
    expect(p.semctl(s.id, 0, GETVAL)).toBe(1);
    await expect(p.semtimedop(s.id, [[0, 1]], { sec: 0, nsec: 1.5 })).rejects.toThrow(TypeError);
    await expect(p.semtimedop(s.id, [[0, 1]], { sec: 1n << 63n, nsec: 0 })).rejects.toThrow(RangeError);
    await expect(p.semtimedop(s.id, [[0, 1]], Number.NaN)).rejects.toThrow(TypeError);
    await expect(p.semtimedop(s.id, [[0, 1]], Infinity)).rejects.toThrow(RangeError);
    await expect(p.semtimedop(s.id, [[0, 1]], 'soon' as never)).rejects.toThrow(TypeError);
    expect(p.semctl(s.id, 0, GETVAL)).toBe(1);
    // No timeout given is none, as null is.
    await p.semtimedop(s.id, [[0, -1]], undefined as never);
    expect(p.semctl(s.id, 0, GETVAL)).toBe(0);
  });

  it('IPC_RMID fails every sleeper with EIDRM; a later call with the id is EINVAL', async () => {
    const p = self();
    const s = semSet(2);
    p.semctl(s.id, 1, SETVAL, 1);
    const calls = [p.semop(s.id, [[0, -1]]), p.semop(s.id, [[1, 0], [0, 0]]), p.semtimedop(s.id, [[0, 0], [1, -3]], 60_000)];
    await untilAsleep(s.id, 3);
    p.semctl(s.id, 0, IPC_RMID);
    // every rejection handled at once: awaiting them one by one leaves the later ones unhandled for a moment
    await Promise.all(calls.map((call) => rejectsWith(call, 'EIDRM')));
    throwsWith(() => p.semopSync(s.id, [[0, 1]]), 'EINVAL');
  });

  it('SEM_UNDO: a child\'s adjustments are applied when it exits', async () => {
    const p = self();
    using s = semSet(2);
    p.semctl(s.id, 0, SETALL, [5, 0]);
    const child = await runChild(`
      const me = openNative().self();
      const id = Number(process.argv[2]);
      me.semopSync(id, [[0, -2, C.SEM_UNDO], [1, 3, C.SEM_UNDO]]);
      await me.semop(id, [[1, -1, C.SEM_UNDO]]);
      console.log(me.semctl(id, 0, C.GETALL).join(' '));
    `, { args: [String(s.id)] });
    expect(child).toMatchObject({ code: 0, stdout: '3 2\n', stderr: '' });
    // At exit each adjustment was added back: +2 and -2.
    expect(p.semctl(s.id, 0, GETALL)).toEqual([5, 0]);
    expect(p.semctl(s.id, 0, GETPID)).toBe(child.pid);
    // Our own undo entries stay ours until we exit: none was made here.
    p.semopSync(s.id, [[0, -1, SEM_UNDO]]);
    expect(p.semctl(s.id, 0, GETVAL)).toBe(4);
  });

  it('a pending semop holds the process until a V comes; with ref: false it is held out of the kernel and put back', async () => {
    const p = self();
    using s = semSet(1);
    const pending = runChild(`
      const me = openNative().self();
      const id = Number(process.argv[2]);
      await me.semop(id, [[0, -1]]);
      console.log('got');
    `, { args: [String(s.id)] });
    await untilSleepingIn(pending, s.id);
    p.semopSync(s.id, [[0, 1]]);
    expect(await pending).toMatchObject({ code: 0, stdout: 'got\n', stderr: '' });
    expect(p.semctl(s.id, 0, GETVAL)).toBe(0);

    const child = await runChild(`
      const me = openNative().self();
      const id = Number(process.argv[2]);
      me.semop(id, [[0, -1]], { ref: false }).then(() => console.log('got', me.semctl(id, 0, C.GETVAL)));
      let once = true;
      process.on('beforeExit', () => {
        if (!once) return;
        once = false;
        // The loop ran dry: the semop is out of the kernel now. Carry on, and once it is back
        // in the kernel (counted in GETNCNT), give it its unit. (A unit given while it is out
        // would stay in the semaphore, and the loop running dry again might end the process
        // before the call is back: ref: false calls never hold it.)
        const give = () => (me.semctl(id, 0, C.GETNCNT) === 1 ? me.semopSync(id, [[0, 1]]) : setTimeout(give, 2));
        setTimeout(give, 2);
      });
    `, { args: [String(s.id)] });
    expect(child).toMatchObject({ code: 0, stdout: 'got 0\n', stderr: '' });
    expect(p.semctl(s.id, 0, GETNCNT)).toBe(0);
  });

  it('on the calling thread (threadSelf, the conformance agent\'s main thread) a semop sleeps right there: interrupted, completed, timed out', async () => {
    using s = semSet(1);
    const child = await runChild(`
      import { Worker } from 'node:worker_threads';
      import { threadId, threadSelf } from './host/native/here.js';
      const me = threadSelf();
      const id = Number(process.argv[2]);
      // Another thread of this process, which acts once this one sleeps in semtimedop.
      const helper = new Worker(\`
        const { workerData, parentPort } = require('node:worker_threads');
        const { readFileSync } = require('node:fs');
        const asleep = () => readFileSync('/proc/self/task/' + workerData.tid + '/syscall', 'utf8').startsWith('220 ');
        (async () => {
          const here = await import(workerData.here);
          const native = await import(workerData.index);
          parentPort.on('message', async (what) => {
            while (!asleep()) await new Promise((r) => setTimeout(r, 1));
            if (what === 'interrupt') here.interruptThread(workerData.tid);
            else native.openNative().self().semopSync(workerData.id, [[0, 1]]);
          });
          parentPort.postMessage('ready');
        })();
      \`, { eval: true, workerData: {
        tid: threadId(), id,
        here: new URL('./host/native/here.js', import.meta.url).href,
        index: new URL('./host/native/index.js', import.meta.url).href,
      } });
      await new Promise((r) => helper.once('message', r));
      const outcome = (p) => p.then(() => 'ok', (e) => e.code);
      helper.postMessage('interrupt');
      console.log(await outcome(me.semop(id, [[0, -1]])));
      helper.postMessage('V');
      console.log(await outcome(me.semop(id, [[0, -1]])));
      console.log(await outcome(me.semtimedop(id, [[0, -1]], 20)));
      console.log(await outcome(me.semop(id, [[0, -1]], { timeout: 20 }).catch((e) => { throw { code: e.name }; })));
      console.log(me.semctl(id, 0, C.GETVAL), me.semctl(id, 0, C.GETNCNT));
      await helper.terminate();
    `, { args: [String(s.id)] });
    expect(child).toMatchObject({ code: 0, stdout: 'EINTR\nok\nEAGAIN\nTypeError\n0 0\n', stderr: '' });
  });

  it('a caller with alter permission but no read may SETALL (GETALL is EACCES); an owner without read may IPC_SET', async () => {
    const p = self();
    using s = semSet(2, 0o600);
    p.semctl(s.id, 0, IPC_SET, { uid: 1000, gid: 1000, mode: 0o200 });
    const child = await runChild(`
      const me = openNative().self();
      const id = Number(process.argv[2]);
      const code = (f) => { try { return String(f()); } catch (e) { return e.code ?? e.name; } };
      console.log(code(() => me.semctl(id, 0, C.GETALL)));
      console.log(code(() => me.semctl(id, 0, C.SETALL, [3, 4])));
      console.log(code(() => me.semctl(id, 0, C.SETALL, [3])));
      console.log(code(() => me.semctl(id, 0, C.IPC_SET, { mode: 0o640 })));
      console.log(code(() => me.semctl(id, 0, C.GETALL)));
    `, { uid: 1000, args: [String(s.id)] });
    expect(child).toMatchObject({ code: 0, stdout: 'EACCES\n0\nRangeError\n0\n3,4\n', stderr: '' });
    expect(p.semctl(s.id, 0, IPC_STAT).sem_perm).toMatchObject({ uid: 1000, gid: 1000, mode: 0o640 });
  });

  it('raw addon: 20000 semaphore calls with random arguments are each answered or refused with a TypeError/RangeError', async () => {
    const path = fileURLToPath(new URL('../../build/Release/ipcemu.node', import.meta.url));
    // An instance of its own (a second addon state, pool and settle function).
    const module = { exports: {} as Record<string, (...args: unknown[]) => unknown> };
    process.dlopen(module, path);
    const raw = module.exports;
    const ctl = new Float64Array(16);
    const seed = Date.now() >>> 0;
    const random = rng(seed);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
    const values = junk();
    const small = [0, 1, 2, 3, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 99, -1, 0x100 | 13, 0x100 | 17, 0o1600, 0o3600, 32000, 32001];
    const any = () => (random() < 0.5 ? pick(small) : pick(values));
    const created = new Set<number>();
    const own = (nsems: number) => {
      const id = raw.semget!(IPC_PRIVATE, nsems, IPC_CREAT | 0o600) as number;
      created.add(id);
      made.add(id);
      return id;
    };
    let sets = [own(1), own(3)];
    const dead = own(1);
    raw.semctl!(dead, 0, IPC_RMID, ctl);
    // Ids name only our sets, or nobody's: random ids could remove or change other programs' sets.
    const notInts = values.filter((v) => !(typeof v === 'number' && Number.isInteger(v)));
    const ids = () => (random() < 0.85 ? [...sets, dead, -1] : notInts);
    const key = randomKey();
    const settle = () => {};
    raw.setup!(settle);
    // Mostly well-typed, so that most calls reach the kernel; sometimes anything at all.
    const sopsArrays = values.filter((v) => v instanceof Int16Array);
    const often = <T>(p: number, likely: () => T) => (random() < p ? likely() : any());
    const sops = () => often(0.8, () => pick(sopsArrays));
    const nsops = () => often(0.8, () => pick([0, 1, 2, 3, 600]));
    // Mostly short timeouts: a call left asleep holds a pool thread until its set goes.
    const sec = () => often(0.8, () => pick([0, 0, 0, 0n, -1, null, 2n ** 62n]));
    const nsec = () => often(0.8, () => pick([1_000_000, 0, 999_999_999, 1_000_000_000, -1]));
    const entries: Record<string, () => unknown[]> = {
      semget: () => [random() < 0.8 ? IPC_PRIVATE : key, random() < 0.5 ? pick([1, 2, 0, -1, 32001]) : any(), any()],
      semop: () => [pick(ids()), sops(), nsops(), sec(), nsec()],
      semopStart: () => [pick(ids()), sops(), nsops(), sec(), nsec()],
      semopHere: () => [pick(ids()), sops(), nsops(), sec(), nsec()],
      semctl: () => [pick(ids()), often(0.8, () => pick([0, 1, 2, 3, -1])), any(), often(0.8, () => ctl)],
      semgetall: () => [pick(ids())],
      semsetall: () => [pick(ids()), often(0.7, () => pick(values.filter((v) => v instanceof Uint16Array)))],
    };
    const names = Object.keys(entries);
    // The *Here calls sleep on this thread when they would block: a worker interrupts it every millisecond.
    const waker = new Worker(`
      const { workerData } = require('node:worker_threads');
      const module = { exports: {} };
      process.dlopen(module, workerData.path);
      setInterval(() => module.exports.interruptThread(workerData.tid), 1);
    `, { eval: true, workerData: { path, tid: raw.threadId!() } });
    await new Promise((resolve, reject) => waker.once('online', resolve).once('error', reject));
    const counts = { answered: 0, typeError: 0, rangeError: 0, errno: 0 };
    try {
      for (let i = 0; i < 20_000; i++) {
        const name = pick(names);
        let args = entries[name]!();
        if (random() < 0.05) args = args.slice(0, Math.floor(random() * args.length));
        try {
          const result = raw[name]!(...args);
          if (name === 'semget' && typeof result === 'number' && result >= 0) {
            created.add(result);
            made.add(result);
          }
          counts.answered++;
        } catch (error) {
          if (error instanceof TypeError) counts.typeError++;
          else if (error instanceof RangeError) counts.rangeError++;
          else if (typeof error === 'object' && error !== null && 'errno' in error && 'syscall' in error) counts.errno++;
          else throw new Error(`seed ${seed}: ${name}(${args.map(String).join(', ')}) threw ${String(error)}`);
        }
        // New sets now and then: calls asleep on the old ones end (EIDRM), and a fuzzed IPC_RMID is undone.
        if (i % 1000 === 999) {
          for (const old of sets) raw.semctl!(old, 0, IPC_RMID, ctl);
          sets = [own(1), own(3)];
        }
        if (i % 2000 === 0) await new Promise((r) => setImmediate(r));
      }
    } finally {
      await waker.terminate();
    }
    console.log(`sem fuzz seed ${seed}:`, counts);
    // Calls left asleep end with their sets' removal (EIDRM), and the instance still works.
    for (const id of created) raw.semctl!(id, 0, IPC_RMID, ctl);
    const stats = raw.stats! as () => { pending: number };
    const deadline = Date.now() + 5000;
    while (stats().pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(stats().pending).toBe(0);
    const id = own(2);
    expect(raw.semop!(id, Int16Array.from([1, 5, 0]), 1)).toBe(0);
    expect(raw.semgetall!(id)).toEqual(Uint16Array.from([0, 5]));
    expect(raw.semctl!(id, 0, IPC_RMID, ctl)).toBe(0);
  });
});
