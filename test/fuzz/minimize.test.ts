import { describe, expect, it } from 'vitest';
import { EmuDriver } from '../../host/conformance/emu-driver.js';
import { runScenario } from '../../host/conformance/runner.js';
import { parseScenario } from '../../host/conformance/scenario.js';
import { Generator } from '../../host/fuzz/generate.js';
import { runnable, runTrace, type RunResult } from '../../host/fuzz/lockstep.js';
import { minimize, replayOn } from '../../host/fuzz/minimize.js';
import { Rng } from '../../host/fuzz/prng.js';
import { scenarioOf, scenarioText } from '../../host/fuzz/scenario-out.js';
import { actorSpecs, defaultActors, type FuzzStep } from '../../host/fuzz/trace.js';
import { laneOf, WrongDriver } from './helpers.js';

describe('ddmin', () => {
  it('keeps exactly the steps a divergence needs', async () => {
    const steps: FuzzStep[] = Array.from({ length: 60 }, (_, i) => ({ kind: 'call', n: i + 1, by: 'A', op: 'msgget', args: ['IPC_PRIVATE', 'IPC_CREAT|0600'] }));
    const needed = [5, 17, 42];
    let runs = 0;
    const replay = async (candidate: readonly FuzzStep[]): Promise<RunResult> => {
      runs++;
      const ns = candidate.map((s) => s.n);
      const at = ns.indexOf(42);
      if (!needed.every((n) => ns.includes(n)) || at < 0) return { records: [], steps: candidate.length };
      return {
        records: candidate.slice(0, at + 1).map((step) => ({ step, ended: [] })),
        steps: at + 1,
        divergence: { at: 42, call: 42, label: 'msgget', what: 'value', signature: 'msgget: value', subject: 'pending', reference: 'pending' },
      };
    };
    const m = await minimize(steps, 'msgget: value', replay);
    expect(m.steps.map((s) => s.n)).toEqual(needed);
    expect(m.complete).toBe(true);
    expect(runs).toBeLessThan(120);
  });

  it('drops the steps that need a dropped one, so a create-remove pair goes in one attempt', () => {
    const steps: FuzzStep[] = [
      { kind: 'call', n: 1, by: 'A', op: 'msgget', args: [1, 'IPC_CREAT|0600'] },
      { kind: 'call', n: 2, by: 'A', op: 'msgrcv', args: ['$q1', 8, 0, 0] },
      { kind: 'interrupt', n: 3, target: 2 },
      { kind: 'call', n: 4, by: 'A', op: 'msgctl', args: ['$q1', 'IPC_RMID'] },
      { kind: 'call', n: 5, by: 'A', op: 'msgget', args: [1, 'IPC_CREAT|IPC_EXCL|0600'] },
      { kind: 'call', n: 6, by: 'A', op: 'msgctl', args: ['$q5', 'IPC_STAT'] },
    ];
    expect(runnable(steps)).toEqual(steps);
    expect(runnable(steps.slice(1)).map((s) => s.n)).toEqual([5, 6]);
    expect(runnable(steps.filter((s) => s.n !== 2)).map((s) => s.n)).toEqual([1, 4, 5, 6]);
  });

  it('stops at its bound and says so', async () => {
    const steps: FuzzStep[] = Array.from({ length: 40 }, (_, i) => ({ kind: 'call', n: i + 1, by: 'A', op: 'msgget', args: ['IPC_PRIVATE', 'IPC_CREAT|0600'] }));
    const replay = async (candidate: readonly FuzzStep[]): Promise<RunResult> => ({
      records: candidate.map((step) => ({ step, ended: [] })),
      steps: candidate.length,
      ...(candidate.length > 10 && { divergence: { at: 40, call: 40, label: 'msgget', what: 'value', signature: 's', subject: 'pending' as const, reference: 'pending' as const } }),
    });
    const m = await minimize(steps, 's', replay, { maxRuns: 3 });
    expect(m.complete).toBe(false);
    expect(m.runs).toBe(3);
    expect(m.steps.length).toBeLessThan(40);
  });
});

describe('a planted divergence', () => {
  it('is found, shrunk to its three steps, and written as a scenario that passes on the right kernel and fails on the wrong one', async () => {
    const actors = defaultActors(4);
    const pair = { subject: laneOf('wrong emu', () => new WrongDriver()), reference: laneOf('emu', () => new EmuDriver()) };
    const options = { actors: actorSpecs(actors) };
    const rng = new Rng(2024);
    let found: RunResult | undefined;
    for (let episode = 0; episode < 20 && found === undefined; episode++) {
      const r = await runTrace(pair, new Generator(rng, { actors, limits: { msgmax: 8192, msgmnb: 16384 }, ops: 200, kinds: ['msg'] }), options);
      if (r.divergence !== undefined) found = r;
    }
    expect(found, 'the planted bug shows within 20 episodes').toBeDefined();
    const d = found!.divergence!;
    expect(d.signature).toBe('msgctl IPC_STAT: value.msg_qnum');

    const m = await minimize(found!.records.map((x) => x.step), d.signature, replayOn(pair, options), {}, found);
    expect(m.complete).toBe(true);
    const shape = m.steps.map((s) => (s.kind === 'call' ? `${s.op}${s.op === 'msgsnd' ? ` type ${String(s.args[1])}` : s.op === 'msgctl' ? ` ${String(s.args[1])}` : ''}` : 'interrupt'));
    expect(shape).toEqual(['msgget', 'msgsnd type 3', 'msgctl IPC_STAT']);
    expect(m.steps.length).toBeLessThan(found!.steps);

    const scenario = parseScenario(scenarioText(scenarioOf(m.result.records, m.result.divergence!, { title: 'planted', refs: [], actors, msgmnb: 16384 })));
    expect(scenario.steps).toHaveLength(3);
    const right = await runScenario(scenario, () => new EmuDriver());
    expect(right.status, JSON.stringify(right)).toBe('pass');
    const wrong = await runScenario(scenario, () => new WrongDriver());
    expect(wrong).toMatchObject({ status: 'fail', step: 3 });
  });
});
