/**
 * The runner's step logic against a toy driver: a few lines of message
 * queue (no types, no permissions) that are enough to block, wake, remove,
 * interrupt, exit and fork, so each rule of the runner can be seen to hold
 * or fail independently of any real backend.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ActorSpec, CallHandle, Driver, DriverOptions, Outcome } from '../../host/conformance/driver.js';
import { UnsupportedOp } from '../../host/conformance/ops.js';
import { resultLine, totalsLine } from '../../host/conformance/report.js';
import { runScenario, runSuite } from '../../host/conformance/runner.js';
import { validateScenario } from '../../host/conformance/scenario.js';
import { IPC_NOWAIT, IPC_RMID, IPC_STAT } from '../../host/constants.js';
import { ERRNO } from '../../host/errors.js';

interface Waiter {
  handle: Handle;
  actor: string;
}
interface Handle extends CallHandle {
  outcome: Outcome | undefined;
  settle(o: Outcome): void;
}

class ToyDriver implements Driver {
  readonly backend = 'emu' as const;
  settlesExactly = true;
  /** Make every call hang without an answer (a broken backend). */
  hang = false;
  /** Make close() fail. */
  failClose = false;
  closed = false;
  started: Record<string, ActorSpec> | undefined;
  options: DriverOptions | undefined;
  readonly pids = new Map<string, number>();
  readonly exited = new Set<string>();
  private nextPid = 100;
  private nextId = 0;
  private readonly queues = new Map<number, { key: number; msgs: { mtype: number; data: Uint8Array }[]; waiters: Waiter[]; lspid: number }>();
  private readonly aborts = new Map<CallHandle, () => void>();

  async start(actors: Record<string, ActorSpec>, options: DriverOptions): Promise<void> {
    this.started = actors;
    this.options = options;
    for (const a of Object.keys(actors)) this.pids.set(a, this.nextPid++);
  }
  pid(actor: string): number {
    return this.pids.get(actor)!;
  }
  call(actor: string, op: string, args: unknown[]): CallHandle {
    if (!['msgget', 'msgsnd', 'msgrcv', 'msgctl'].includes(op)) throw new UnsupportedOp(op);
    let settle!: (o: Outcome) => void;
    const done = new Promise<Outcome>((r) => (settle = r));
    const h: Handle = { op, outcome: undefined, done, settle: (o) => { if (!h.outcome) { h.outcome = o; settle(o); } } };
    if (this.hang) return h;
    const fail = (code: keyof typeof ERRNO) => h.settle({ ok: false, errno: ERRNO[code] });
    const [id, a1, a2, a3] = args as [number, unknown, unknown, number];
    if (op === 'msgget') {
      this.queues.set(++this.nextId, { key: id, msgs: [], waiters: [], lspid: 0 });
      h.settle({ ok: true, value: this.nextId });
      return h;
    }
    const q = this.queues.get(id);
    if (!q) {
      fail('EINVAL');
      return h;
    }
    if (op === 'msgsnd') {
      q.lspid = this.pid(actor);
      const w = q.waiters.shift();
      if (w) w.handle.settle({ ok: true, value: { mtype: a1, data: a2 } });
      else q.msgs.push({ mtype: a1 as number, data: a2 as Uint8Array });
      queueMicrotask(() => h.settle({ ok: true, value: 0 }));
    } else if (op === 'msgrcv') {
      const m = q.msgs.shift();
      if (m) h.settle({ ok: true, value: m });
      else if (a3 & IPC_NOWAIT) fail('ENOMSG');
      else {
        const w = { handle: h, actor };
        q.waiters.push(w);
        this.aborts.set(h, () => {
          q.waiters.splice(q.waiters.indexOf(w), 1);
          fail('EINTR');
        });
      }
    } else if (a1 === IPC_RMID) {
      for (const w of q.waiters) w.handle.settle({ ok: false, errno: ERRNO.EIDRM });
      this.queues.delete(id);
      h.settle({ ok: true, value: 0 });
    } else if (a1 === IPC_STAT) {
      h.settle({ ok: true, value: { msg_qnum: q.msgs.length, msg_lspid: q.lspid, msg_perm: { key: q.key, mode: 0o600 } } });
    } else if (a1 === 99) {
      h.settle({ ok: false, errno: 0, fault: 'kernel trapped' });
    } else fail('EINVAL');
    return h;
  }
  async settle(): Promise<void> {
    await new Promise((r) => setImmediate(r));
  }
  async interrupt(call: CallHandle): Promise<void> {
    this.aborts.get(call)?.();
  }
  async fork(parent: string, child: string): Promise<void> {
    this.pids.set(child, this.nextPid++);
    void parent;
  }
  async exit(actor: string): Promise<void> {
    this.exited.add(actor);
    for (const q of this.queues.values()) q.waiters = q.waiters.filter((w) => w.actor !== actor);
  }
  async close(): Promise<void> {
    this.closed = true;
    if (this.failClose) throw new Error('could not remove queue 3');
  }
}

const Q = { by: 'A', call: ['msgget', 11, 'IPC_CREAT|0600'], as: 'q' };
const BLOCK = { by: 'B', call: ['msgrcv', '$q', 64, 0, 0], expect: 'blocks', as: 'r' };

function sc(steps: unknown[], extra: Record<string, unknown> = {}) {
  return validateScenario({ format: 1, title: 'toy', actors: { A: {}, B: {} }, ...extra, steps });
}

async function run(steps: unknown[], opts: { extra?: Record<string, unknown>; setup?: (d: ToyDriver) => void; timeoutMs?: number } = {}) {
  const driver = new ToyDriver();
  opts.setup?.(driver);
  const result = await runScenario(sc(steps, opts.extra), () => driver, { timeoutMs: opts.timeoutMs ?? 200, keyBase: 0x40000 });
  return { result, driver, line: resultLine(result) };
}

describe('runScenario', () => {
  it('passes a scenario with blocks, still, wait, pids and keys mapped back', async () => {
    const { result, driver } = await run([
      Q,
      BLOCK,
      { still: 'r' },
      { by: 'A', call: ['msgsnd', '$q', 2, 'hi', 0], expect: 0 },
      { wait: 'r', expect: { mtype: 2, data: 'hi' }, as: 'm' },
      { by: 'A', call: ['msgsnd', '$q', 3, '$$x', 0] },
      { by: 'A', call: ['msgctl', '$q', 'IPC_STAT'], expect: { msg_qnum: 1, msg_lspid: '$pid:A', msg_perm: { key: 11, mode: '0600' } } },
      { by: 'B', call: ['msgrcv', '$q', 64, 0, 'IPC_NOWAIT'], expect: { data: '$$x' } },
    ]);
    expect(result).toMatchObject({ status: 'pass', title: 'toy' });
    expect(driver.closed).toBe(true);
    expect(driver.options).toMatchObject({ keyBase: 0x40000, settleMs: 50 });
    expect(driver.options!.mqPrefix.length).toBeLessThanOrEqual(32);
  });

  it('fails at the first step that differs, showing expected and actual', async () => {
    const { result, line } = await run([Q, { by: 'A', call: ['msgrcv', '$q', 64, 0, 'IPC_NOWAIT'], expect: { errno: 'EAGAIN' } }, { by: 'A', exit: true }]);
    expect(result).toMatchObject({ status: 'fail', step: 2 });
    expect(line).toBe('FAIL toy: step 2: expected {"errno": "EAGAIN"}, got {"errno": "ENOMSG"}');
  });

  it('shows pids and data the way a scenario writes them', async () => {
    const { line } = await run([
      Q,
      { by: 'A', call: ['msgsnd', '$q', 1, 'x', 0] },
      { by: 'A', call: ['msgctl', '$q', 'IPC_STAT'], expect: { msg_lspid: '$pid:B', msg_qnum: 1 } },
    ]);
    expect(line).toBe('FAIL toy: step 3: expected {"msg_lspid": "$pid:B", "msg_qnum": 1}, got {"msg_lspid": "$pid:A", "msg_qnum": 1}');
  });

  it('fails a "blocks" call that completes', async () => {
    const { line } = await run([Q, { by: 'A', call: ['msgsnd', '$q', 1, 'x', 0] }, { ...BLOCK, expect: 'blocks' }]);
    expect(line).toBe('FAIL toy: step 3: expected blocks, got {"mtype": 1, "data": "x"}');
  });

  it('fails a call that should complete but blocks, at once where settling is exact', async () => {
    const { line } = await run([Q, { by: 'B', call: ['msgrcv', '$q', 64, 0, 0], expect: { mtype: 1 } }]);
    expect(line).toBe('FAIL toy: step 2: expected {"mtype": 1}, got blocks');
  });

  it('bounds the wait on a backend that never answers', async () => {
    const { line } = await run([Q], { setup: (d) => { d.hang = true; d.settlesExactly = false; }, timeoutMs: 30 });
    expect(line).toBe('FAIL toy: step 1: expected success, got blocks (no answer after 0.03 s)');
  });

  it('fails "still" when the call has answered, and "wait" when it has not', async () => {
    const still = await run([Q, BLOCK, { by: 'A', call: ['msgsnd', '$q', 1, 'x', 0] }, { still: 'r' }]);
    expect(still.line).toBe('FAIL toy: step 4: expected still blocked, got {"mtype": 1, "data": "x"}');
    const wait = await run([Q, BLOCK, { wait: 'r' }]);
    expect(wait.line).toBe('FAIL toy: step 3: expected success, got still blocked');
  });

  it('interrupts a pending call through the driver; one that has answered fails the step', async () => {
    const ok = await run([Q, BLOCK, { interrupt: 'r', restart: true }, { wait: 'r', expect: { errno: 'EINTR' } }]);
    expect(ok.result.status).toBe('pass');
    const late = await run([Q, BLOCK, { by: 'A', call: ['msgsnd', '$q', 1, 'x', 0] }, { interrupt: 'r' }]);
    expect(late.line).toBe('FAIL toy: step 4: expected a blocked call to interrupt, got {"mtype": 1, "data": "x"}');
  });

  it('abandons the blocked calls of an actor that exits: waiting on one is a scenario error', async () => {
    const { line } = await run([Q, BLOCK, { by: 'B', exit: true }, { wait: 'r' }]);
    expect(line).toBe('FAIL toy: step 4: scenario error: wait "r": the call of step 2 was abandoned when actor B exited at step 3');
    const still = await run([Q, BLOCK, { by: 'B', exit: true }, { still: 'r' }]);
    expect(still.line).toMatch(/step 4: scenario error: still "r": the call of step 2 was abandoned/);
  });

  it('lets a call that completed before its actor exited be waited for', async () => {
    const { result } = await run([Q, BLOCK, { by: 'A', call: ['msgsnd', '$q', 1, 'x', 0] }, { by: 'B', exit: true }, { wait: 'r', expect: { data: 'x' } }]);
    expect(result.status).toBe('pass');
  });

  it('forks actors with pids of their own', async () => {
    const { result, driver } = await run([
      Q,
      { by: 'A', fork: 'C' },
      { by: 'C', call: ['msgsnd', '$q', 1, 'x', 0] },
      { by: 'A', call: ['msgctl', '$q', 'IPC_STAT'], expect: { msg_lspid: '$pid:C' } },
      { by: 'A', call: ['msgctl', '$q', 'IPC_STAT'], expect: { msg_lspid: { not: '$pid:A' } } },
    ]);
    expect(result.status).toBe('pass');
    expect(driver.pids.get('C')).toBe(102);
  });

  it('fails an unsupported operation with its name, never skips it', async () => {
    const { line } = await run([{ by: 'A', call: ['semget', 'IPC_PRIVATE', 1, 'IPC_CREAT|0600'] }]);
    expect(line).toBe('FAIL toy: step 1: unsupported operation semget on this backend');
  });

  it('reports scenario errors found while running: a name bound to a failed call, a bad value', async () => {
    const failed = await run([{ by: 'A', call: ['msgrcv', 7, 64, 0, 'IPC_NOWAIT'], as: 'x', expect: { errno: 'EINVAL' } }, { by: 'A', call: ['msgctl', '$x', 'IPC_STAT'] }]);
    expect(failed.line).toBe('FAIL toy: step 2: scenario error: $x names a call that failed (EINVAL)');
    const bad = await run([Q, { by: 'A', call: ['msgsnd', '$q', 1, { hex: 'zz' }, 0] }]);
    expect(bad.line).toBe('FAIL toy: step 2: scenario error: bad hex data "zz"');
    const pair = await run([{ ...Q, as: ['a', 'b'] }]);
    expect(pair.line).toMatch(/step 1: scenario error: 'as' has 2 names but the result is 1/);
  });

  it('reports a backend fault as a runner error', async () => {
    const { line } = await run([Q, { by: 'A', call: ['msgctl', '$q', 99] }]);
    expect(line).toBe('FAIL toy: step 2: runner error: msgctl failed in the backend: kernel trapped');
  });

  it('closes the driver whatever happens, and fails when closing fails', async () => {
    const failing = await run([Q, { by: 'A', call: ['msgctl', '$q', 'IPC_STAT'], expect: 0 }]);
    expect(failing.driver.closed).toBe(true);
    const close = await run([Q], { setup: (d) => { d.failClose = true; } });
    expect(close.line).toBe('FAIL toy: runner error: cleanup failed: could not remove queue 3');
  });

  it('skips on requires, with the reason; the emulator meets root and linux versions', async () => {
    expect((await run([Q], { extra: { requires: ['frobnicate'] } })).line).toBe('SKIP toy: unknown requirement "frobnicate"');
    expect((await run([Q], { extra: { requires: ['nonroot'] } })).line).toBe('SKIP toy: requires nonroot (the emulator runs actors as root)');
    expect((await run([Q], { extra: { requires: ['msg_copy'] } })).line).toBe('SKIP toy: requires msg_copy (the emu backend cannot tell whether MSG_COPY is available)');
    const { result, driver } = await run([Q], { extra: { requires: ['root', 'linux>=99.1', 'linux<2'] } });
    expect(result.status).toBe('pass');
    expect(driver.started).toEqual({ A: {}, B: {} });
  });

  it('gives each scenario its own key window', async () => {
    const bases = new Set<number>();
    for (let i = 0; i < 3; i++) {
      const d = new ToyDriver();
      await runScenario(sc([Q]), () => d);
      bases.add(d.options!.keyBase);
      expect(d.options!.keyBase % 16384).toBe(0);
      expect(d.options!.keyBase + 16383).toBeLessThanOrEqual(0x7fffffff);
    }
    expect(bases.size).toBe(3);
  });
});

describe('runSuite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ipcemu-suite-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every file on every available backend, lists unavailable ones, and totals', async () => {
    const ok = { format: 1, title: 'ok', actors: { A: {} }, steps: [Q] };
    writeFileSync(join(dir, '1.json'), JSON.stringify(ok));
    writeFileSync(join(dir, '2.json'), JSON.stringify({ ...ok, title: 'skipped', requires: ['nonroot'] }));
    writeFileSync(join(dir, '3.json'), '{ not json');
    const seen: string[] = [];
    const report = await runSuite(
      [dir],
      [
        { name: 'emu', makeDriver: () => new ToyDriver() },
        { name: 'native', unavailable: 'the addon did not load' },
      ],
      { onBackend: (b) => seen.push(`# ${b.name}`), onResult: (r) => seen.push(resultLine(r)) },
    );
    expect(seen).toEqual([
      '# emu',
      'PASS ok',
      'SKIP skipped: requires nonroot (the emulator runs actors as root)',
      'FAIL 3.json: scenario error: cannot parse: JSON: expected a string key at line 1, column 3',
      '# native',
    ]);
    expect(totalsLine(report)).toBe('1 passed, 1 failed, 1 skipped');
    expect(report.backends[1]).toEqual({ backend: 'native', unavailable: 'the addon did not load', results: [] });
  });
});
