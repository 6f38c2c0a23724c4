import { describe, expect, it } from 'vitest';
import { fuzzMain } from '../../host/fuzz/cli.js';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l) } };
}

describe('ipcemu fuzz', () => {
  it('runs the emulator against itself with --self-check and closes with the totals line', async () => {
    const t = io();
    const code = await fuzzMain(['--self-check', '--ops', '600', '--seed', '31', '--actors', '3'], t.io);
    expect(t.err).toEqual([]);
    expect(code).toBe(0);
    expect(t.out[0]).toContain('--seed 31 --ops 600 --actors 3 --self-check');
    expect(t.out[t.out.length - 1]).toBe('600 operations, 0 divergences');
    expect(t.out.some((l) => /ops\/s/.test(l))).toBe(true);
  });

  it('picks a seed when none is given, and prints it so the run can be replayed', async () => {
    const t = io();
    expect(await fuzzMain(['--self-check', '--ops', '20'], t.io)).toBe(0);
    const seed = /--seed (\d+)/.exec(t.out[0]!)?.[1];
    expect(seed).toBeDefined();
    const again = io();
    expect(await fuzzMain(['--self-check', '--ops', '20', '--seed', seed!], again.io)).toBe(0);
    expect(again.out[0]).toBe(t.out[0]);
  });

  it('prints one JSON report with --json and the totals line on stderr', async () => {
    const t = io();
    const code = await fuzzMain(['--self-check', '--ops', '150', '--seed', '8', '--json'], t.io);
    expect(code).toBe(0);
    expect(t.out).toHaveLength(1);
    expect(JSON.parse(t.out[0]!)).toMatchObject({ seed: 8, operations: 150, divergences: [] });
    expect(t.err).toEqual(['150 operations, 0 divergences']);
  });

  it('answers usage errors with status 2 and --help with 0', async () => {
    for (const argv of [['--ops'], ['--ops', 'x'], ['--seed', '-1'], ['--actors', '0'], ['--bogus']]) {
      const t = io();
      expect(await fuzzMain(argv, t.io), argv.join(' ')).toBe(2);
      expect(t.err[0]).toMatch(/^ipcemu fuzz: /);
    }
    const t = io();
    expect(await fuzzMain(['--help'], t.io)).toBe(0);
    expect(t.out[0]).toMatch(/^usage: ipcemu fuzz/);
  });
});
