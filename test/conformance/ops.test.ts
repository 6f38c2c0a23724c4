/**
 * runOp's side of the descriptor operations: which Process method each op
 * calls with which arguments, and how results are normalized to FORMAT.md's
 * table, on a recording stand-in for a Process (the backends' own behaviour
 * is what the scenarios test).
 */

import { describe, expect, it } from 'vitest';
import type { Process } from '../../host/api.js';
import { CallSignal, newActorState, runOp, SUPPORTED_OPS, UnsupportedOp } from '../../host/conformance/ops.js';
import { KNOWN_OPS } from '../../host/conformance/decode.js';
import { F_GETFL, F_SETPIPE_SZ, MSG_DONTWAIT, MSG_PEEK, MSG_TRUNC, O_NONBLOCK, O_RDONLY } from '../../host/constants.js';

const bytes = (s: string) => new TextEncoder().encode(s);

/** A Process whose methods answer from `answers` and record each call with its arguments. */
function recording(answers: Record<string, unknown>): { p: Process; calls: [string, unknown[]][] } {
  const calls: [string, unknown[]][] = [];
  const p = new Proxy({}, {
    get: (_t, name: string) => (...args: unknown[]) => {
      calls.push([name, args]);
      return answers[name];
    },
  }) as Process;
  return { p, calls };
}

describe('runOp: descriptor operations', () => {
  it('covers every descriptor operation of FORMAT.md', () => {
    const fd = ['pipe', 'mkfifo', 'open', 'unlink', 'stat', 'read', 'write', 'close', 'fcntl', 'ioctl', 'poll',
      'socketpair', 'send', 'recv', 'shutdown', 'setsockopt', 'getsockopt'];
    for (const op of fd) {
      expect(KNOWN_OPS.has(op), op).toBe(true);
      expect(SUPPORTED_OPS.has(op), op).toBe(true);
    }
  });

  it('answers what the table says: pairs, counts, data, 0 for calls that return nothing', async () => {
    const { p, calls } = recording({
      pipe: [5, 6], socketpair: [7, 8], open: Promise.resolve(9), read: Promise.resolve(bytes('ab')),
      write: Promise.resolve(2), send: Promise.resolve(3), poll: Promise.resolve(0x41), ioctl: 4, fcntl: O_RDONLY | O_NONBLOCK,
      getsockopt: 4608, stat: { type: 'fifo', mode: 0o644, extra: 1 },
    });
    const s = newActorState();
    expect(await runOp(p, 'pipe', [O_NONBLOCK], s)).toEqual([5, 6]);
    expect(await runOp(p, 'socketpair', [1, 1, 0], s)).toEqual([7, 8]);
    expect(await runOp(p, 'open', ['/d/f', 0, 0o666], s)).toBe(9);
    expect(await runOp(p, 'read', [5, 16], s)).toEqual(bytes('ab'));
    expect(await runOp(p, 'write', [6, bytes('ab')], s)).toBe(2);
    expect(await runOp(p, 'send', [7, bytes('abc'), 0], s)).toBe(3);
    expect(await runOp(p, 'poll', [5, 0x41, 0], s)).toBe(0x41);
    expect(await runOp(p, 'ioctl', [5, 0x541b], s)).toBe(4);
    expect(await runOp(p, 'fcntl', [5, F_GETFL], s)).toBe(O_RDONLY | O_NONBLOCK);
    expect(await runOp(p, 'getsockopt', [7, 7], s)).toBe(4608);
    expect(await runOp(p, 'stat', ['/d/f'], s)).toEqual({ type: 'fifo', mode: 0o644 });
    for (const [op, args] of [['mkfifo', ['/d/f', 0o600]], ['unlink', ['/d/f']], ['close', [5]], ['shutdown', [7, 1]], ['setsockopt', [7, 7, 4096]]] as const) {
      expect(await runOp(p, op, [...args], s), op).toBe(0);
    }
    // the argument count reaches the backend as given: fcntl F_GETFL without a third argument
    expect(calls.find(([name]) => name === 'fcntl')![1]).toEqual([5, F_GETFL]);
  });

  it('passes the interrupt signal to every call that can block, and to no other', async () => {
    const { p, calls } = recording({ open: Promise.resolve(3), read: Promise.resolve(new Uint8Array()), write: Promise.resolve(0),
      poll: Promise.resolve(0), send: Promise.resolve(0), recv: Promise.resolve({ data: new Uint8Array(), length: 0 }) });
    const signal = new AbortController().signal;
    const s = newActorState();
    await runOp(p, 'open', ['/d/f', 0, 0o666], s, { signal });
    await runOp(p, 'read', [3, 1], s, { signal });
    await runOp(p, 'write', [3, new Uint8Array(1)], s, { signal });
    await runOp(p, 'poll', [3, 1, -1], s, { signal });
    await runOp(p, 'send', [3, new Uint8Array(1), 0], s, { signal });
    await runOp(p, 'recv', [3, 1, 0], s, { signal });
    for (const [name, args] of calls) expect(args[args.length - 1], name).toEqual({ signal });
  });

  it('recv answers data alone, or { data, length } where the flags hold MSG_TRUNC', async () => {
    const { p, calls } = recording({ recv: Promise.resolve({ data: bytes('hell'), length: 11 }) });
    const s = newActorState();
    expect(await runOp(p, 'recv', [4, 4, 0], s)).toEqual(bytes('hell'));
    expect(await runOp(p, 'recv', [4, 4, MSG_DONTWAIT | MSG_PEEK], s)).toEqual(bytes('hell'));
    expect(await runOp(p, 'recv', [4, 4, MSG_TRUNC], s)).toEqual({ data: bytes('hell'), length: 11 });
    expect(calls.map(([, args]) => args[2])).toEqual([0, MSG_DONTWAIT | MSG_PEEK, MSG_TRUNC]);
  });

  it("fcntl's argument reaches the backend as the low 32 bits the kernel reads (unsigned)", async () => {
    const { p, calls } = recording({ fcntl: 4096 });
    for (const arg of [(1n << 60n) + 4096n, 2 ** 32 + 8192, 2 ** 32, -1, 5000]) await runOp(p, 'fcntl', [4, F_SETPIPE_SZ, arg], newActorState());
    expect(calls.map(([, args]) => args[2])).toEqual([4096, 8192, 0, 0xffffffff, 5000]);
  });

  it('shared memory and POSIX queues are still unsupported', async () => {
    const { p } = recording({});
    await expect(runOp(p, 'shmget', [0, 4096, 0], newActorState())).rejects.toThrow(UnsupportedOp);
    await expect(runOp(p, 'mq_open', ['/q', 0, 0o600, null], newActorState())).rejects.toThrow(UnsupportedOp);
  });
});

describe('CallSignal', () => {
  /** A backend's listener: records each reason; under SA_RESTART it listens to the reason's signal when `rearm`. */
  function listen(signal: AbortSignal, reasons: unknown[], rearm: boolean): void {
    signal.addEventListener('abort', () => {
      reasons.push(signal.reason);
      const next = (signal.reason as { signal?: AbortSignal }).signal;
      if (rearm && next !== undefined) listen(next, reasons, rearm);
    }, { once: true });
  }

  it('aborts with an Error, or with { restart: true, signal } whose signal the restarted call can listen to', () => {
    const c = new CallSignal();
    const reasons: unknown[] = [];
    listen(c.signal, reasons, true);
    c.interrupt(true);
    c.interrupt(true);
    c.interrupt(false);
    expect(reasons).toHaveLength(3);
    expect(reasons[0]).toMatchObject({ restart: true, signal: expect.any(AbortSignal) });
    expect(reasons[1]).toMatchObject({ restart: true });
    expect(reasons[2]).toBeInstanceOf(Error);
    expect(() => c.interrupt(false)).toThrow(/can no longer be interrupted/);
  });

  it('refuses an interrupt nobody listens to: a backend that let the restarted call keep no signal', () => {
    const c = new CallSignal();
    const reasons: unknown[] = [];
    listen(c.signal, reasons, false);
    c.interrupt(true);
    expect(() => c.interrupt(true)).toThrow(/can no longer be interrupted/);
    expect(reasons).toHaveLength(1);
  });
});
