import { describe, expect, it } from 'vitest';
import { IPC_INFO, IPC_STAT, MSG_STAT } from '../../host/constants.js';
import type { Outcome } from '../../host/conformance/driver.js';
import { parseScenario } from '../../host/conformance/scenario.js';
import { listSource, runTrace, type RunResult } from '../../host/fuzz/lockstep.js';
import { compareStates, firstDifference, normalizeValue, type NormContext } from '../../host/fuzz/normalize.js';
import { scenarioOf, scenarioText } from '../../host/fuzz/scenario-out.js';
import { actorSpecs, defaultActors, type FuzzStep } from '../../host/fuzz/trace.js';
import { laneOf, ScriptedDriver, type Scripted } from './helpers.js';

const bytes = (s: string) => new TextEncoder().encode(s);

function ctx(keyBase: number, pids: Record<number, string>, ids: Record<number, string>): NormContext {
  return {
    keyBase,
    symbolOf: (id) => (ids[id] === undefined ? undefined : '$' + ids[id]),
    pidName: (pid) => pids[pid] ?? `$pid:?${pid}`,
  };
}

function stat(o: { key: number; lspid: number; lrpid: number; time: number; qnum?: number; mode?: number }) {
  return {
    msg_perm: { key: o.key, uid: 0, gid: 0, cuid: 0, cgid: 0, mode: o.mode ?? 0o600 },
    msg_stime: o.time, msg_rtime: 0, msg_ctime: o.time + 5,
    msg_cbytes: 2, msg_qnum: o.qnum ?? 1, msg_qbytes: 16384, msg_lspid: o.lspid, msg_lrpid: o.lrpid,
  };
}

describe('normalization', () => {
  const emu = ctx(0x10000, { 100: '$pid:A', 101: '$pid:B' }, { 0: 'q1' });
  const kernel = ctx(0x2a0000, { 4000: '$pid:A', 4001: '$pid:B', 4007: '$tid:B' }, { 98304: 'q1' });

  it('makes ids, pids, thread ids, times and keys agree between backends', () => {
    const a = normalizeValue('msgctl', [0, IPC_STAT], stat({ key: 0x10000 + 3, lspid: 100, lrpid: 101, time: 1 }), emu);
    const b = normalizeValue('msgctl', [98304, IPC_STAT], stat({ key: 0x2a0000 + 3, lspid: 4000, lrpid: 4007, time: 1_790_000_000 }), kernel);
    expect(firstDifference(a, b)).toBeUndefined();
    expect((a as { msg_perm: { key: number } }).msg_perm.key).toBe(3);
    expect((a as { msg_stime: unknown }).msg_stime).toEqual({ nonzero: true });
    expect(normalizeValue('msgget', [], 0, emu)).toBe('$q1');
    const s1 = normalizeValue('msgctl', [0, MSG_STAT], { result: 0, ...stat({ key: 0, lspid: 100, lrpid: 0, time: 1 }) }, emu);
    const s2 = normalizeValue('msgctl', [98304, MSG_STAT], { result: 98304, ...stat({ key: 0, lspid: 4000, lrpid: 0, time: 9 }) }, kernel);
    expect(firstDifference(s1, s2)).toBeUndefined();
    expect((s1 as { result: unknown }).result).toBe('$q1');
  });

  it('still catches every field that must agree', () => {
    const base = { key: 0x10000 + 3, lspid: 100, lrpid: 101, time: 1 };
    const a = normalizeValue('msgctl', [0, IPC_STAT], stat(base), emu);
    expect(firstDifference(a, normalizeValue('msgctl', [0, IPC_STAT], stat({ ...base, qnum: 2 }), emu))).toBe('msg_qnum');
    expect(firstDifference(a, normalizeValue('msgctl', [0, IPC_STAT], stat({ ...base, mode: 0o644 }), emu))).toBe('msg_perm.mode');
    expect(firstDifference(a, normalizeValue('msgctl', [0, IPC_STAT], stat({ ...base, lrpid: 100 }), emu))).toBe('msg_lrpid');
    expect(firstDifference(a, normalizeValue('msgctl', [0, IPC_STAT], stat({ ...base, time: 0 }), emu))).toBe('msg_stime.nonzero');
    expect(firstDifference(a, normalizeValue('msgctl', [0, IPC_STAT], stat({ ...base, key: 0x10000 + 4 }), emu))).toBe('msg_perm.key');
    // a pid that is nobody's is shown by number, so it never matches an actor
    expect(firstDifference(a, normalizeValue('msgctl', [0, IPC_STAT], stat({ ...base, lspid: 555 }), emu))).toBe('msg_lspid');
  });

  it('compares IPC_INFO by its limits only', () => {
    const info = (used: number, msgmnb: number) => ({ result: used, msgpool: used * 7, msgmap: used, msgmax: 8192, msgmnb, msgmni: 32000, msgssz: 16, msgtql: used, msgseg: 65535 });
    const a = normalizeValue('msgctl', [0, IPC_INFO], info(3, 16384), emu);
    expect(firstDifference(a, normalizeValue('msgctl', [0, IPC_INFO], info(250, 16384), kernel))).toBeUndefined();
    expect(firstDifference(a, normalizeValue('msgctl', [0, IPC_INFO], info(3, 16000), kernel))).toBe('msgmnb');
  });

  it('names what differs between two call states', () => {
    const msg = (t: number | bigint, s: string) => ({ value: { mtype: t, data: bytes(s) } });
    expect(compareStates('pending', 'pending')).toBeUndefined();
    expect(compareStates('pending', { value: 0 })).toBe('pending only on the subject');
    expect(compareStates({ errno: 'ENOMSG' }, 'pending')).toBe('pending only on the reference');
    expect(compareStates({ errno: 'ENOMSG' }, { errno: 'E2BIG' })).toBe('errno ENOMSG/E2BIG');
    expect(compareStates({ errno: 'ENOMSG' }, msg(1, 'a'))).toBe('outcome ENOMSG/success');
    expect(compareStates(msg(1, 'ab'), msg(1, 'ac'))).toBe('value.data');
    expect(compareStates(msg(1, 'ab'), msg(1, 'ab'))).toBeUndefined();
    expect(compareStates(msg(2 ** 40, 'x'), msg(BigInt(2 ** 40), 'x'))).toBeUndefined();
    expect(compareStates(msg((1n << 63n) - 1n, 'x'), msg((1n << 63n) - 2n, 'x'))).toBe('value.mtype');
    expect(compareStates({ value: '$q3' }, { value: '$q1' })).toBe('value');
    expect(compareStates({ fault: 'trap' }, { value: 0 })).toBe('fault');
  });
});

/**
 * A tiny scripted kernel for the fabricated traces: ids and pids differ per
 * "machine"; `bug` changes one answer.
 */
function scripted(machine: { idBase: number; pidBase: number; time: number }, bug?: 'no-wake' | 'old-id' | 'wake-early') {
  const sleepers: number[] = [];
  let key = 0;
  let made = 0;
  return new ScriptedDriver(({ index, op, args }): Scripted => {
    const ok = (value: unknown): Outcome => ({ ok: true, value });
    switch (op) {
      case 'msgget':
        key = args[0] as number;
        if (bug === 'old-id' && made > 0) return { outcome: ok(machine.idBase) };
        return { outcome: ok(machine.idBase + 32768 * made++) };
      case 'msgrcv':
        if (((args[3] as number) & 0o4000) !== 0) {
          const woken = bug === 'wake-early' ? sleepers.splice(0) : [];
          return { outcome: { ok: false, errno: 42 }, wakes: woken.map((i) => [i, ok({ mtype: 9, data: bytes('?') })] as [number, Outcome]) };
        }
        sleepers.push(index);
        return {};
      case 'msgsnd': {
        const woken = bug === 'no-wake' ? [] : sleepers.splice(0);
        return { outcome: ok(0), wakes: woken.map((i) => [i, ok({ mtype: args[1], data: args[2] })] as [number, Outcome]) };
      }
      default:
        return { outcome: ok({ ...stat({ key, lspid: machine.pidBase + 100, lrpid: machine.pidBase + 101, time: machine.time }), msg_qnum: 0 }) };
    }
  }, machine.pidBase);
}

const actors = defaultActors(2);
const steps: FuzzStep[] = [
  { kind: 'call', n: 1, by: 'A', op: 'msgget', args: [1, 'IPC_CREAT|0600'] },
  { kind: 'call', n: 2, by: 'B', op: 'msgrcv', args: ['$q1', 100, 0, 0] },
  { kind: 'call', n: 3, by: 'A', op: 'msgrcv', args: ['$q1', 100, 5, 'IPC_NOWAIT'] },
  { kind: 'call', n: 4, by: 'A', op: 'msgget', args: [2, 'IPC_CREAT|0600'] },
  { kind: 'call', n: 5, by: 'A', op: 'msgsnd', args: ['$q1', 7, bytes('hello'), 'IPC_NOWAIT'] },
  { kind: 'call', n: 6, by: 'A', op: 'msgctl', args: ['$q1', 'IPC_STAT'] },
];

async function fabricate(bug?: 'no-wake' | 'old-id' | 'wake-early'): Promise<RunResult> {
  const emu = { idBase: 0, pidBase: 0, time: 1 };
  const kernel = { idBase: 5 * 32768 + 17, pidBase: 7000, time: 1_790_000_000 };
  const pair = { subject: laneOf('emu', () => scripted(emu, bug)), reference: laneOf('kernel', () => scripted(kernel)) };
  return runTrace(pair, listSource(steps), { actors: actorSpecs(actors) });
}

function scenarioFor(r: RunResult) {
  const text = scenarioText(scenarioOf(r.records, r.divergence!, { title: 'fabricated', refs: [], actors, msgmnb: 16384 }));
  return { text, parsed: parseScenario(text) };
}

describe('fabricated traces', () => {
  it('agree when only ids, pids and times differ', async () => {
    const r = await fabricate();
    expect(r.divergence).toBeUndefined();
    expect(r.steps).toBe(steps.length);
    expect(r.records[4]!.ended.map((e) => e.n)).toEqual([2]);
  });

  it('catch a sleeper the emulator fails to wake, at the step that should wake it', async () => {
    const r = await fabricate('no-wake');
    expect(r.divergence).toMatchObject({ at: 5, call: 2, signature: 'woken msgrcv: pending only on the subject' });
    const { parsed, text } = scenarioFor(r);
    expect(text).toContain('{ "by": "B", "call": ["msgrcv", "$q1", 100, 0, 0], "expect": "blocks", "as": "c2" }');
    expect(text).toContain('{ "wait": "c2", "expect": { "mtype": 7, "data": "hello" } }');
    expect(parsed.steps).toHaveLength(6);
  });

  it('catch a sleeper the emulator wakes too early, with a `still` step in the scenario', async () => {
    const r = await fabricate('wake-early');
    expect(r.divergence).toMatchObject({ at: 3, call: 2, signature: 'woken msgrcv: pending only on the reference' });
    const { text, parsed } = scenarioFor(r);
    expect(text).toContain('"expect": "blocks", "as": "c2"');
    expect(parsed.steps[parsed.steps.length - 1]).toMatchObject({ kind: 'still', name: 'c2' });
  });

  it('catch a msgget that names an old queue where the kernel makes a new one', async () => {
    const r = await fabricate('old-id');
    expect(r.divergence).toMatchObject({ at: 4, signature: 'msgget: value' });
    expect(r.divergence!.subject).toEqual({ value: '$q1' });
    expect(r.divergence!.reference).toEqual({ value: '$q4' });
    const { text } = scenarioFor(r);
    expect(text).toContain('{ "by": "A", "call": ["msgget", 2, "IPC_CREAT|0600"], "expect": { "not": "$q1" }, "as": "q4" }');
  });
});
