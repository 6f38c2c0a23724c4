import { describe, expect, it } from 'vitest';
import { Generator, type Observation } from '../../host/fuzz/generate.js';
import { emuLane } from '../../host/fuzz/lane.js';
import { runTrace, wellFormed } from '../../host/fuzz/lockstep.js';
import { Rng } from '../../host/fuzz/prng.js';
import { actorSpecs, defaultActors, isGet, queueName, type FuzzKind, type FuzzStep } from '../../host/fuzz/trace.js';

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
function generateOffline(seed: number, ops: number, kinds?: readonly FuzzKind[]): FuzzStep[] {
  const g = new Generator(new Rng(seed), { actors, limits, ops, ...(kinds !== undefined && { kinds }) });
  const out: FuzzStep[] = [];
  for (let s = g.next(); s !== undefined; s = g.next()) {
    out.push(s);
    const obs: Observation = s.kind === 'call'
      ? { own: { pending: false, ok: true, ...(isGet(s.op) && String(s.args[s.args.length - 1]).includes('IPC_CREAT') && { queue: queueName(s.n) }) }, ended: [] }
      : { ended: s.kind === 'interrupt' ? [s.target] : [] };
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

  it('names only objects an earlier msgget or semget bound, and closes by removing every queue and set it made', () => {
    const steps = generateOffline(99, 400);
    expect(wellFormed(steps)).toBe(true);
    const made = steps.filter((s) => s.kind === 'call' && isGet(s.op) && String(s.args[s.args.length - 1]).includes('IPC_CREAT')).map((s) => '$' + queueName(s.n));
    const isRmid = (s: FuzzStep): boolean => s.kind === 'call' && ((s.op === 'msgctl' && s.args[1] === 'IPC_RMID') || (s.op === 'semctl' && s.args[2] === 'IPC_RMID'));
    const removed = new Set(steps.filter(isRmid).map((s) => (s as { args: unknown[] }).args[0]));
    expect(made.length).toBeGreaterThan(2);
    for (const q of made) expect(removed.has(q)).toBe(true);
    expect(isRmid(steps[steps.length - 1]!)).toBe(true);
  });

  it('keeps to the kinds it is given', () => {
    const ops = (kinds: readonly FuzzKind[]) => new Set(generateOffline(3, 600, kinds).flatMap((s) => (s.kind === 'call' ? [s.op.slice(0, 3)] : [])));
    expect([...ops(['msg'])]).toEqual(['msg']);
    expect([...ops(['sem'])]).toEqual(['sem']);
    expect([...ops(['msg', 'sem'])].sort()).toEqual(['msg', 'sem']);
  });

  it('reaches every semaphore operation, command and flag it is meant to', () => {
    const steps = generateOffline(6, 5000, ['sem']);
    const seen = new Set<string>();
    for (const s of steps) {
      if (s.kind !== 'call') continue;
      seen.add(s.op);
      if (s.op === 'semctl') seen.add(String(s.args[2]));
      if (s.op === 'semget') seen.add(`nsems ${String(s.args[1])}`);
      if (s.op === 'semop') {
        const sops = s.args[1] as Array<[number, number, string?]>;
        seen.add(`sops ${sops.length}`);
        for (const [num, op, flg] of sops) {
          seen.add(`flags ${flg ?? 0}`);
          if (op === 32767 || op === -32768) seen.add(`op ${op}`);
          if (num === 0xffff) seen.add('num 65535');
        }
        if (sops.length > 1 && sops.some((o, i) => sops.findIndex((p) => p[0] === o[0]) !== i)) seen.add('duplicate');
      }
    }
    for (const want of ['semget', 'semop', 'semctl', 'GETVAL', 'SETVAL', 'GETALL', 'SETALL', 'GETPID', 'GETNCNT', 'GETZCNT', 'IPC_STAT',
      'IPC_SET', 'IPC_RMID', 'IPC_INFO', 'SEM_INFO', 'SEM_STAT', 'SEM_STAT_ANY', 'nsems 0', 'nsems 32000', 'nsems 32001', 'sops 1', 'sops 4',
      'flags 0', 'flags IPC_NOWAIT', 'flags IPC_NOWAIT|SEM_UNDO', 'flags SEM_UNDO', 'op 32767', 'op -32768', 'num 65535', 'duplicate']) {
      expect(seen, want).toContain(want);
    }
  });

  it('gives semaphore episodes whose calls succeed, fail and sleep on the emulator', async () => {
    const pair = { subject: emuLane('emu'), reference: emuLane('emu (second kernel)') };
    const g = new Generator(new Rng(11), { actors, limits, ops: 600, kinds: ['sem'] });
    const r = await runTrace(pair, g, { actors: actorSpecs(actors) });
    expect(r.divergence).toBeUndefined();
    const seen = new Set<string>();
    for (const rec of r.records) {
      if (rec.step.kind !== 'call' || rec.own === undefined) continue;
      const st = rec.own[1];
      seen.add(`${rec.step.op} ${st === 'pending' ? 'pending' : 'value' in st ? 'ok' : 'errno' in st ? st.errno : 'fault'}`);
    }
    for (const want of ['semget ok', 'semop ok', 'semop EAGAIN', 'semop pending', 'semop EFBIG', 'semop ERANGE', 'semctl ok', 'semctl EINVAL']) {
      expect(seen, want).toContain(want);
    }
  });

  it('reaches every operation, command and flag it is meant to', () => {
    const steps = generateOffline(5, 5000);
    const seen = new Set<string>();
    for (const s of steps) {
      if (s.kind !== 'call') continue;
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
