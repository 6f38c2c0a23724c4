import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadScenarios, parseScenario, scenarioFiles, validateScenario } from '../../host/conformance/scenario.js';
import { ScenarioError } from '../../host/conformance/scenario-error.js';

const base = {
  format: 1,
  title: 't',
  refs: [],
  tags: ['msg'],
  actors: { A: {}, B: { uid: 1000 } },
};
const Q = { by: 'A', call: ['msgget', 'IPC_PRIVATE', 'IPC_CREAT|0600'], as: 'q' };
const BLOCK = { by: 'B', call: ['msgrcv', '$q', 64, 0, 0], expect: 'blocks', as: 'r' };

function scenario(steps: unknown[], extra: Record<string, unknown> = {}) {
  return { ...base, ...extra, steps };
}

/** The ScenarioError a scenario raises: its step and message. */
function error(raw: unknown): { step: number | undefined; message: string } {
  try {
    validateScenario(raw);
  } catch (e) {
    if (e instanceof ScenarioError) return { step: e.step, message: e.message };
    throw e;
  }
  throw new Error('scenario validated');
}

describe('validateScenario', () => {
  it('accepts every step kind and keeps what each says', () => {
    const s = validateScenario(
      scenario([
        Q,
        BLOCK,
        { still: 'r' },
        { interrupt: 'r', restart: true, by: 'B' },
        { wait: 'r', expect: { errno: 'EINTR' }, as: 'again' },
        { by: 'A', fork: 'C' },
        { by: 'C', call: ['msgctl', '$q', 'IPC_STAT'], expect: { msg_lspid: '$pid:C' } },
        { by: 'C', exit: true },
      ]),
    );
    expect(s.steps.map((x) => x.kind)).toEqual(['call', 'call', 'still', 'interrupt', 'wait', 'fork', 'call', 'exit']);
    expect(s.steps[1]).toMatchObject({ kind: 'call', n: 2, by: 'B', op: 'msgrcv', args: ['$q', 64, 0, 0], expect: 'blocks', as: 'r' });
    expect(s.steps[3]).toMatchObject({ kind: 'interrupt', name: 'r', restart: true });
    expect(s.actors).toEqual({ A: {}, B: { uid: 1000 } });
  });

  it('checks the top level', () => {
    expect(error({ ...scenario([Q]), format: 2 }).message).toMatch(/unsupported format 2/);
    expect(error({ ...scenario([Q]), require: ['root'] }).message).toMatch(/unknown top-level field "require"/);
    expect(error({ ...scenario([Q]), title: '' }).message).toMatch(/title/);
    expect(error({ ...scenario([Q]), requires: 'root' }).message).toMatch(/'requires' must be an array/);
    expect(error(scenario([])).message).toMatch(/'steps' must be a non-empty array/);
    expect(error([]).message).toMatch(/JSON object/);
  });

  it('checks actors: only uid and gid, non-negative integers', () => {
    expect(error({ ...scenario([Q]), actors: {} }).message).toMatch(/non-empty/);
    expect(error({ ...scenario([Q]), actors: { A: { uid: 1, groups: [] } } }).message).toMatch(/unknown field "groups"/);
    expect(error({ ...scenario([Q]), actors: { A: { uid: -1 } } }).message).toMatch(/non-negative/);
    expect(error({ ...scenario([Q]), actors: { A: null } }).message).toMatch(/must be an object/);
  });

  it('checks each step has exactly one kind and only its fields', () => {
    expect(error(scenario([Q, { by: 'A', call: ['msgget', 1], fork: 'X' }]))).toEqual({ step: 2, message: expect.stringMatching(/this one has call, fork/) });
    expect(error(scenario([{ by: 'A' }]))).toEqual({ step: 1, message: expect.stringMatching(/has none/) });
    expect(error(scenario([{ ...Q, expcet: 0 }]))).toEqual({ step: 1, message: expect.stringMatching(/no field "expcet"/) });
    expect(error(scenario([Q, BLOCK, { interrupt: 'r', restart: 'yes' }])).step).toBe(3);
    expect(error(scenario([Q, BLOCK, { interrupt: 'r', by: 'A' }])).message).toMatch(/actor B's, not "A"'s/);
    expect(error(scenario([Q, BLOCK, { interrupt: 'r', expect: 0 }])).message).toMatch(/no field "expect"/);
    expect(error(scenario([{ by: 'A', exit: false }])).message).toMatch(/exit step/);
    expect(error(scenario(['step']))).toEqual({ step: 1, message: 'a step must be an object' });
  });

  it('checks operations, argument counts and expectations', () => {
    expect(error(scenario([{ by: 'A', call: ['msgfoo', 1] }])).message).toMatch(/unknown operation "msgfoo"/);
    expect(error(scenario([{ by: 'A', call: ['msgget'] }])).message).toMatch(/msgget expects 1 to 2 arguments, got 0/);
    expect(error(scenario([{ by: 'A', call: [] }])).message).toMatch(/\[OP, ARG/);
    expect(error(scenario([{ ...Q, expect: { errno: 'ENOTANERRNO' } }])).message).toMatch(/unknown errno name/);
    expect(error(scenario([{ ...Q, expect: { errno: 'EINVAL', x: 1 } }])).message).toMatch(/errno/);
    expect(error(scenario([{ ...Q, expect: { not: { errno: 'EINVAL' } } }])).message).toMatch(/not an errno/);
    expect(error(scenario([{ ...Q, expect: { a: { nonzero: 1 } } }])).message).toMatch(/true or false/);
    expect(error(scenario([{ ...Q, as: ['a', 'a'] }])).message).toMatch(/distinct/);
    expect(error(scenario([{ ...Q, as: 5 }])).message).toMatch(/'as'/);
  });

  it('tracks actors: unknown, exited, forked, reused fork names', () => {
    expect(error(scenario([{ by: 'Z', call: ['msgget', 1] }])).message).toMatch(/no actor named "Z"/);
    expect(error(scenario([{ by: 'A', exit: true }, { by: 'A', call: ['msgget', 1] }]))).toEqual({ step: 2, message: 'actor A has exited' });
    expect(error(scenario([{ by: 'A', fork: 'B' }])).message).toMatch(/already an actor B/);
    expect(error(scenario([{ by: 'A', fork: 'C' }, { by: 'C', exit: true }, { by: 'A', fork: 'C' }])).step).toBe(3);
    expect(error(scenario([Q, { by: 'A', call: ['msgctl', '$q', 'IPC_STAT'], expect: { msg_lspid: '$pid:C' } }])).message).toMatch(/\$pid:C/);
    expect(() => validateScenario(scenario([{ by: 'A', fork: 'C' }, { by: 'A', exit: true }, { by: 'C', call: ['msgget', 1], expect: { not: '$pid:A' } }]))).not.toThrow();
  });

  it('tracks names: pending until waited, bound after, unknown otherwise', () => {
    expect(error(scenario([{ by: 'A', call: ['msgsnd', '$q', 1, 'x'] }])).message).toMatch(/unknown name \$q/);
    expect(error(scenario([Q, BLOCK, { by: 'A', call: ['msgctl', '$r', 'IPC_STAT'] }])).message).toMatch(/still pending/);
    expect(error(scenario([Q, BLOCK, { wait: 'r' }, { still: 'r' }]))).toEqual({ step: 4, message: 'no pending call named "r"' });
    expect(error(scenario([Q, { wait: 'q' }])).message).toMatch(/no pending call named "q"/);
    expect(error(scenario([Q, BLOCK, { wait: 'r', expect: 'blocks' }])).message).toMatch(/cannot expect "blocks"/);
    expect(error(scenario([Q, BLOCK, { ...BLOCK, as: 's' }, { wait: 'r', as: 's' }])).message).toMatch(/another call that is still pending/);
    expect(error(scenario([Q, BLOCK, { ...BLOCK }])).message).toMatch(/"r" names another call that is still pending/);
    // after the wait, both the call's name and the wait's are bound
    expect(() =>
      validateScenario(scenario([Q, BLOCK, { wait: 'r', as: 'got' }, { by: 'A', call: ['msgsnd', '$q', 1, '$got'], expect: { not: '$r' } }])),
    ).not.toThrow();
    // "$$..." is a literal, never a name
    expect(() => validateScenario(scenario([Q, { by: 'A', call: ['msgsnd', '$q', 1, '$$nope'] }]))).not.toThrow();
  });
});

describe('parseScenario', () => {
  it('reports JSON errors as scenario errors', () => {
    expect(() => parseScenario('{"format": 1,')).toThrow(/cannot parse: JSON: unexpected end of input/);
  });

  it('keeps big integers exact', () => {
    const text = `{"format": 1, "title": "t", "actors": {"A": {}},
      "steps": [{"by": "A", "call": ["msgrcv", 1, 64, -9223372036854775808]}, {"by": "A", "call": ["msgsnd", 1, 9223372036854775807, "x"]}]}`;
    const s = parseScenario(text);
    expect(s.steps[0]).toMatchObject({ args: [1, 64, -9223372036854775808n] });
    expect(s.steps[1]).toMatchObject({ args: [1, 9223372036854775807n, 'x'] });
  });
});

describe('loadScenarios', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ipcemu-load-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('walks directories (files first, then subdirectories, sorted), keeps *.json, and reports unreadable files', () => {
    mkdirSync(join(dir, 'b'));
    mkdirSync(join(dir, 'a'));
    writeFileSync(join(dir, 'z.json'), JSON.stringify(scenario([Q], { title: 'z' })));
    writeFileSync(join(dir, 'notes.md'), 'not a scenario');
    writeFileSync(join(dir, 'a', 'x.json'), JSON.stringify(scenario([Q], { title: 'a/x' })));
    writeFileSync(join(dir, 'b', 'y.json'), '{"format": 1, "title": "broken", "steps": 3}');
    expect(scenarioFiles([dir]).map((f) => f.slice(dir.length + 1))).toEqual(['z.json', 'a/x.json', 'b/y.json']);
    const loaded = loadScenarios([dir, join(dir, 'missing.json')]);
    expect(loaded.map((l) => l.title)).toEqual(['z', 'a/x', 'broken', 'missing.json']);
    expect(loaded[2]!.error?.message).toMatch(/actors/);
    expect(loaded[3]!.error?.message).toMatch(/cannot read scenario/);
    expect(loaded[0]!.scenario?.steps).toHaveLength(1);
  });
});
