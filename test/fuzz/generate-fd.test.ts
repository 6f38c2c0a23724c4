import { describe, expect, it } from 'vitest';
import { Generator, type Observation } from '../../host/fuzz/generate.js';
import { emuLane } from '../../host/fuzz/lane.js';
import { runTrace, wellFormed } from '../../host/fuzz/lockstep.js';
import { Rng } from '../../host/fuzz/prng.js';
import { actorSpecs, defaultActors, fdRef, isForked, isPair, pairNames, type FuzzKind, type FuzzStep } from '../../host/fuzz/trace.js';

const actors = defaultActors(4);
const limits = { msgmax: 8192, msgmnb: 16384 };

/**
 * Drives a generator with a fixed model of the answers: every call succeeds
 * at once, a write answers its full size and a read or recv an empty buffer,
 * so the output depends on the seed alone.
 */
function generateOffline(seed: number, ops: number, kinds: readonly FuzzKind[]): FuzzStep[] {
  const g = new Generator(new Rng(seed), { actors, limits, ops, kinds, forks: true });
  const out: FuzzStep[] = [];
  for (let s = g.next(); s !== undefined; s = g.next()) {
    out.push(s);
    let value: unknown = 0;
    if (s.kind === 'call' && isPair(s.op)) value = pairNames(s.op, s.n).map((x) => '$' + x);
    if (s.kind === 'call' && (s.op === 'write' || s.op === 'send')) value = (s.args[1] as Uint8Array).length;
    if (s.kind === 'call' && (s.op === 'read' || s.op === 'recv')) value = new Uint8Array(0);
    const obs: Observation = s.kind === 'call' ? { own: { pending: false, ok: true, value }, ended: [] } : { ended: s.kind === 'interrupt' ? [s.target] : [] };
    g.observe(s, obs);
  }
  return out;
}

describe('the descriptor generator', () => {
  it('makes pipes and socketpairs and names each end only from the actor that made it or a child forked since', () => {
    const steps = generateOffline(3, 600, ['pipe', 'socket']);
    const owner = new Map<number, string>();
    /** child → its parent */
    const parent = new Map<string, string>();
    const alive = new Set<string>();
    const ops = new Set<string>();
    const ancestors = (a: string): string[] => (parent.has(a) ? [a, ...ancestors(parent.get(a)!)] : [a]);
    for (const s of steps) {
      if (s.kind === 'fork') {
        parent.set(s.child, s.by);
        alive.add(s.child);
        ops.add('fork');
      }
      if (s.kind === 'exit') {
        expect(alive.delete(s.by)).toBe(true); // only forked children exit, once
        ops.add('exit');
      }
      if (s.kind !== 'call') continue;
      ops.add(s.op);
      if (isPair(s.op)) owner.set(s.n, s.by);
      const n = fdRef(s.args[0]);
      if (n !== undefined) expect(ancestors(s.by)).toContain(owner.get(n));
    }
    expect([...alive]).toEqual([]); // every child has exited by the end
    for (const op of ['fork', 'exit']) expect(ops).toContain(op);
    for (const op of ['pipe', 'socketpair', 'read', 'write', 'send', 'recv', 'close', 'fcntl', 'ioctl', 'poll', 'shutdown']) expect(ops).toContain(op);
    expect(wellFormed(steps)).toBe(true);
  });

  it('writes at the sizes where the page-slot rules show', () => {
    const sizes = new Set<number>();
    for (const seed of [1, 2, 3, 4]) {
      for (const s of generateOffline(seed, 800, ['pipe'])) {
        if (s.kind === 'call' && s.op === 'write') sizes.add((s.args[1] as Uint8Array).length);
      }
    }
    for (const size of [1, 2047, 2049, 4096, 4097, 65536]) expect(sizes).toContain(size);
  });

  it('keeps at most 16 KiB waiting toward a socket end (the answers here say every send went in and no receive took anything)', () => {
    const steps = generateOffline(5, 1500, ['socket']);
    const queued = new Map<string, number>();
    for (const s of steps) {
      if (s.kind !== 'call' || (s.op !== 'send' && s.op !== 'write')) continue;
      const fd = s.args[0] as string;
      const m = /^\$([xy])(\d+)$/.exec(fd);
      if (m === null) continue;
      const peer = `${m[1] === 'x' ? 'y' : 'x'}${m[2]}`;
      queued.set(peer, (queued.get(peer) ?? 0) + (s.args[1] as Uint8Array).length);
      expect(queued.get(peer)).toBeLessThanOrEqual(16384);
    }
    expect(queued.size).toBeGreaterThan(0);
  });

  it('ends an episode with every end closed', () => {
    const steps = generateOffline(9, 300, ['pipe', 'socket']);
    const open = new Set<string>();
    for (const s of steps) {
      if (s.kind !== 'call' || isForked(s.by)) continue; // a forked child's copies close when it exits
      if (isPair(s.op)) for (const x of pairNames(s.op, s.n)) open.add('$' + x);
      if (s.op === 'close') open.delete(s.args[0] as string);
    }
    expect([...open]).toEqual([]);
  });

  it('gives the same steps for the same seed', () => {
    const a = JSON.stringify(generateOffline(11, 300, ['pipe', 'socket']), (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
    const b = JSON.stringify(generateOffline(11, 300, ['pipe', 'socket']), (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
    expect(a).toBe(b);
  });

  it('runs episodes with forks and exits on the emulator: calls succeed, fail and sleep, and every call ends', async () => {
    const pair = { subject: emuLane('emu'), reference: emuLane('emu (second kernel)') };
    const seen = new Set<string>();
    for (const seed of [1, 2]) {
      const g = new Generator(new Rng(seed), { actors, limits, ops: 400, kinds: ['pipe', 'socket'], forks: true });
      const r = await runTrace(pair, g, { actors: actorSpecs(actors) });
      expect(r.divergence).toBeUndefined();
      expect(r.invalid).toBeUndefined();
      for (const rec of r.records) {
        if (rec.step.kind === 'fork' || rec.step.kind === 'exit') seen.add(rec.step.kind);
        if (rec.step.kind !== 'call' || rec.own === undefined) continue;
        const st = rec.own[1];
        seen.add(`${rec.step.op} ${st === 'pending' ? 'pending' : 'value' in st ? 'ok' : 'errno' in st ? st.errno : 'fault'}`);
      }
    }
    for (const want of ['fork', 'exit', 'pipe ok', 'write ok', 'write EAGAIN', 'write EPIPE', 'read ok', 'read pending', 'recv ok', 'recv EAGAIN', 'close ok', 'fcntl ok']) {
      expect(seen, want).toContain(want);
    }
  });
});
