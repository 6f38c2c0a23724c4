/**
 * Random arguments at every entry point of the raw addon: whatever comes in,
 * it answers a number, a value or a TypeError/RangeError (or its plain
 * { errno, syscall }), and the process lives on. The fuzzing uses an
 * instance of its own (process.dlopen again: a second addon state), so the
 * host's instance is not disturbed, and ids are drawn only from queues it
 * owns or ids that cannot name anyone's queue — random ids could remove or
 * drain other programs' queues. The *Here calls sleep on this very thread
 * when they would block: a worker thread interrupts whatever this thread
 * sleeps in every millisecond (they then answer EINTR).
 */

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';
import { IPC_CREAT, IPC_PRIVATE, IPC_RMID } from '../../host/constants.js';
import type { RawAddon } from '../../host/native/addon.js';
import { ipcsQueues, leakedSince, native, randomKey, titled, track } from './helpers.js';

/** A small deterministic generator (mulberry32), so a failure replays from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function detached<T extends ArrayBufferView>(view: T): T {
  structuredClone(view.buffer, { transfer: [view.buffer as ArrayBuffer] });
  return view;
}

/** Values of every JavaScript kind, and numbers at every C boundary. */
function junk(): unknown[] {
  // ES2024's resizable ArrayBuffer (Node 20 has it; this lib does not declare it).
  const Resizable = ArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => ArrayBuffer;
  const resizable = new Resizable(8, { maxByteLength: 64 });
  return [
    undefined, null, true, false, '', '1', 'IPC_CREAT', {}, [], [1, 2], () => 1, Symbol('s'),
    new Error('e'), new Map(), new Proxy({}, { get() { throw new Error('trap'); } }),
    { valueOf: () => 1 }, new Date(0),
    NaN, Infinity, -Infinity, -0, 0.5, -1.5, 1e300, -1e300, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 53, -(2 ** 53), 2 ** 63,
    0n, 1n, -1n, 2n ** 63n, -(2n ** 63n) - 1n, 2n ** 64n, -(2n ** 100n),
    new Uint8Array(0), new Uint8Array(16), Buffer.alloc(3), new Uint8Array(9000), new Uint8Array(1 << 20),
    new Int8Array(4), new Uint8ClampedArray(4), new Uint16Array(4), new Float32Array(16), new BigInt64Array(2),
    new Float64Array(0), new Float64Array(1), new Float64Array(2), new Float64Array(16), new Float64Array(64),
    new DataView(new ArrayBuffer(8)), new ArrayBuffer(8), new SharedArrayBuffer(8),
    new Uint8Array(new SharedArrayBuffer(8)), new Float64Array(new SharedArrayBuffer(128)),
    new Uint8Array(resizable), new Uint8Array(new ArrayBuffer(32), 5, 7),
    detached(new Uint8Array(8)), detached(new Float64Array(16)),
  ];
}

/** The raw addon's functions (its `io` array is not one). */
type Entry = { [K in keyof RawAddon]: RawAddon[K] extends (...args: never[]) => unknown ? K : never }[keyof RawAddon];

/** Numbers that are plain small integers: flags, sizes, commands, types. */
const SMALL = [0, 1, 2, 3, 11, 12, 13, 99, -1, 0o4000, 0o10000, 0o20000, 0o40000, 0o14000, 0o44000, 0o1600, 64, 8192, 8193];

describe.skipIf(native.unavailable !== undefined)(titled('native raw addon fuzz'), () => {
  let raw: RawAddon;
  let before: Map<number, unknown>;
  beforeAll(() => {
    before = ipcsQueues();
    const path = fileURLToPath(new URL('../../build/Release/ipcemu.node', import.meta.url));
    // A second instance: its own state, pool and settle function.
    const module = { exports: {} as RawAddon };
    process.dlopen(module, path);
    raw = module.exports;
    expect(raw).not.toBe(createRequire(import.meta.url)(path));
  });

  /** A thread that interrupts any *Here call this thread sleeps in, every millisecond, until terminated. */
  function interrupter(): Worker {
    const path = fileURLToPath(new URL('../../build/Release/ipcemu.node', import.meta.url));
    return new Worker(`
      const { workerData } = require('node:worker_threads');
      const module = { exports: {} };
      process.dlopen(module, workerData.path);
      setInterval(() => module.exports.interruptThread(workerData.tid), 1);
    `, { eval: true, workerData: { path, tid: raw.threadId() } });
  }

  it('survives 30000 calls with random arguments, each answered or refused with a TypeError/RangeError', async () => {
    const seed = Date.now() >>> 0;
    const random = rng(seed);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
    const values = junk();
    const created = new Set<number>();
    const own = () => {
      const id = raw.msgget(IPC_PRIVATE, IPC_CREAT | 0o600);
      created.add(track(id));
      return id;
    };
    let q = own();
    const dead = own();
    raw.msgctl(dead, IPC_RMID, new Float64Array(16));
    const key = randomKey();
    // Ids that name only our queues, or nobody's; plus every non-id value.
    const ids = () => [q, dead, -1, ...values.filter((v) => !(typeof v === 'number' && Number.isInteger(v)))];
    const keys = [IPC_PRIVATE, key, ...values.filter((v) => !(typeof v === 'number' && Number.isInteger(v)))];
    const any = () => (random() < 0.5 ? pick(SMALL) : pick(values));
    const settled: unknown[] = [];
    const settle = (...args: unknown[]) => { settled.push(args); };

    // The *Io calls read their scalars from raw.io: numbers only there (a store converts anything else).
    const numbers = values.filter((v): v is number => typeof v === 'number');
    const io = (...slots: number[][]) => {
      slots.forEach((choices, slot) => { raw.io[slot] = pick(choices); });
    };
    const ioIds = () => [q, dead, -1, ...numbers.filter((v) => !Number.isInteger(v) || Math.abs(v) >= 2 ** 31)];
    const entries: Record<Entry, () => unknown[]> = {
      setup: () => [random() < 0.7 ? settle : any()],
      msgget: () => [pick(keys), any()],
      msgsnd: () => [pick(ids()), any(), any(), any()],
      msgrcv: () => [pick(ids()), any(), any(), any()],
      msgrcvInto: () => [pick(ids()), any(), any(), any()],
      msgsndIo: () => (io(ioIds(), [...SMALL, ...numbers], [...SMALL, ...numbers]), [any()]),
      msgrcvIntoIo: () => (io(ioIds(), [...SMALL, ...numbers], [...SMALL, ...numbers]), [any()]),
      lastMtype: () => [],
      msgctl: () => [pick(ids()), any(), any()],
      msgsndStart: () => [pick(ids()), any(), any(), any()],
      msgrcvStart: () => [pick(ids()), any(), any(), any()],
      msgsndHere: () => [pick(ids()), any(), any(), any()],
      msgrcvHere: () => [pick(ids()), any(), any(), any()],
      // Threads of this process only ever sleep here in the fuzz's own calls.
      interruptThread: () => [random() < 0.5 ? raw.threadId() + Math.floor(random() * 4) : any()],
      threadId: () => [],
      keepAlive: () => [random() < 0.7 ? random() < 0.5 : any()],
      cancel: () => [random() < 0.5 ? Math.floor(random() * 64) : any()],
      quiesce: () => [],
      resume: () => [],
      drain: () => [],
      stats: () => [],
    };
    const names = Object.keys(entries) as Entry[];
    const counts = { answered: 0, typeError: 0, rangeError: 0, errno: 0, interruptedHere: 0 };
    const waker = interrupter();
    await new Promise((resolve, reject) => waker.once('online', resolve).once('error', reject));
    for (let i = 0; i < 30_000; i++) {
      const name = pick(names);
      let args = entries[name]();
      // Sometimes too few or too many.
      if (random() < 0.05) args = args.slice(0, Math.floor(random() * args.length));
      else if (random() < 0.05) args = [...args, any(), any()];
      try {
        const result = (raw[name] as (...a: unknown[]) => unknown)(...args);
        if (name === 'msgget' && typeof result === 'number' && result >= 0) created.add(track(result));
        if ((name === 'msgsndHere' || name === 'msgrcvHere') && result === -4) counts.interruptedHere++;
        counts.answered++;
      } catch (error) {
        if (error instanceof TypeError) counts.typeError++;
        else if (error instanceof RangeError) counts.rangeError++;
        else if (typeof error === 'object' && error !== null && 'errno' in error && 'syscall' in error) counts.errno++;
        else if (error instanceof Error && /setup\(\) must be called/.test(error.message)) counts.answered++;
        else throw new Error(`seed ${seed}: ${name}(${args.map(String).join(', ')}) threw ${String(error)}`);
      }
      // A fuzzed IPC_RMID may have removed our queue: make another.
      if (i % 500 === 0 && raw.msgctl(q, 2, new Float64Array(16)) < 0) q = own();
      if (i % 2000 === 0) await new Promise((r) => setImmediate(r));
    }
    await waker.terminate();
    console.log(`fuzz seed ${seed}:`, counts);

    // Clean up: calls left sleeping end with the queues' removal, and none holds the process.
    raw.setup(settle);
    raw.keepAlive(false);
    raw.resume();
    for (const id of created) raw.msgctl(id, IPC_RMID, new Float64Array(16));
    const deadline = Date.now() + 5000;
    while (raw.stats().pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(raw.stats().pending).toBe(0);

    // And the instance still works.
    const id = own();
    expect(raw.msgsnd(id, 5, new Uint8Array([1, 2]), 0)).toBe(0);
    expect(raw.msgrcvInto(id, new Uint8Array(4), 0, 0)).toBe(2);
    expect(raw.io[3]).toBe(5);
    expect(raw.msgctl(id, IPC_RMID, new Float64Array(16))).toBe(0);
  });

  it('leaves ipcs -q as it found it (no queue of this file left behind)', () => {
    expect(leakedSince(before)).toEqual([]);
  });
});
