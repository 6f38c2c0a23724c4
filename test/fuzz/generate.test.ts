import { describe, expect, it } from 'vitest';
import { Generator, type Observation } from '../../host/fuzz/generate.js';
import { emuLane } from '../../host/fuzz/lane.js';
import { runTrace, wellFormed } from '../../host/fuzz/lockstep.js';
import { Rng } from '../../host/fuzz/prng.js';
import { actorSpecs, defaultActors, queueName, type FuzzStep } from '../../host/fuzz/trace.js';

const actors = defaultActors(4);
const limits = { msgmax: 8192, msgmnb: 16384 };

/** Steps as comparable text (bytes as hex, bigints as digits). */
function text(steps: readonly FuzzStep[]): string {
  return JSON.stringify(steps, (_k, v: unknown) =>
    typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v);
}

/**
 * Drives a generator with a fixed model of the answers (a msgget with
 * IPC_CREAT makes a new queue, every call succeeds at once), so its output
 * depends on the seed alone.
 */
function generateOffline(seed: number, ops: number): FuzzStep[] {
  const g = new Generator(new Rng(seed), { actors, limits, ops });
  const out: FuzzStep[] = [];
  for (let s = g.next(); s !== undefined; s = g.next()) {
    out.push(s);
    const obs: Observation = s.kind === 'call'
      ? { own: { pending: false, ok: true, ...(s.op === 'msgget' && String(s.args[1]).includes('IPC_CREAT') && { queue: queueName(s.n) }) }, ended: [] }
      : { ended: [s.target] };
    g.observe(s, obs);
  }
  return out;
}

describe('Rng', () => {
  it('gives the same numbers for the same seed and different ones for another', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xs = Array.from({ length: 64 }, () => a.u32());
    expect(Array.from({ length: 64 }, () => b.u32())).toEqual(xs);
    expect(Array.from({ length: 64 }, () => c.u32())).not.toEqual(xs);
  });

  it('keeps below(n) in range and reaches both ends', () => {
    const r = new Rng(7);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const x = r.below(5);
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(5);
      seen.add(x);
    }
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('rejects seeds that are not printable as JSON integers', () => {
    expect(() => new Rng(-1)).toThrow(RangeError);
    expect(() => new Rng(2 ** 53)).toThrow(RangeError);
    expect(() => new Rng(1.5)).toThrow(RangeError);
  });
});

describe('Generator', () => {
  it('produces the same steps for the same seed and answers', () => {
    expect(text(generateOffline(1234, 300))).toBe(text(generateOffline(1234, 300)));
    expect(text(generateOffline(1234, 300))).not.toBe(text(generateOffline(1235, 300)));
  });

  it('names only queues an earlier msgget bound, and closes by removing every queue it made', () => {
    const steps = generateOffline(99, 400);
    expect(wellFormed(steps)).toBe(true);
    const made = steps.filter((s) => s.kind === 'call' && s.op === 'msgget' && String(s.args[1]).includes('IPC_CREAT')).map((s) => '$' + queueName(s.n));
    const removed = new Set(steps.filter((s) => s.kind === 'call' && s.op === 'msgctl' && s.args[1] === 'IPC_RMID').map((s) => (s as { args: unknown[] }).args[0]));
    for (const q of made) expect(removed.has(q)).toBe(true);
    const last = steps[steps.length - 1]!;
    expect(last.kind === 'call' && last.op === 'msgctl' && last.args[1]).toBe('IPC_RMID');
  });

  it('reaches every operation, command and flag it is meant to', () => {
    const steps = generateOffline(5, 5000);
    const seen = new Set<string>();
    for (const s of steps) {
      if (s.kind === 'interrupt') continue;
      seen.add(s.op);
      if (s.op === 'msgctl') seen.add(String(s.args[1]));
      if (s.op === 'msgrcv' || s.op === 'msgsnd') seen.add(`${s.op} ${s.args[3]}`);
      if (s.op === 'msgget') seen.add(`key ${s.args[0] === 'IPC_PRIVATE' ? 'private' : 'small'}`);
    }
    for (const want of ['msgget', 'msgsnd', 'msgrcv', 'msgctl', 'IPC_STAT', 'IPC_SET', 'IPC_RMID', 'IPC_INFO', 'MSG_INFO', 'MSG_STAT',
      'MSG_STAT_ANY', '258', 'msgrcv IPC_NOWAIT|MSG_COPY', 'msgrcv IPC_NOWAIT|MSG_EXCEPT', 'msgrcv IPC_NOWAIT|MSG_NOERROR', 'msgrcv 0',
      'msgsnd 0', 'msgsnd IPC_NOWAIT', 'key private', 'key small']) {
      expect(seen, want).toContain(want);
    }
  });

  it('gives the same episode twice when run on the emulator (answers come from a deterministic kernel)', async () => {
    const pair = { subject: emuLane('emu'), reference: emuLane('emu (second kernel)') };
    const run = async (seed: number) => {
      const g = new Generator(new Rng(seed), { actors, limits, ops: 300 });
      const r = await runTrace(pair, g, { actors: actorSpecs(actors) });
      expect(r.divergence).toBeUndefined();
      return r.records.map((x) => x.step);
    };
    const a = await run(77);
    expect(text(await run(77))).toBe(text(a));
    expect(text(await run(78))).not.toBe(text(a));
    expect(a.length).toBeGreaterThanOrEqual(290);
  });
});
