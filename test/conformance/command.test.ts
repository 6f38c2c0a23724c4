import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BackendName } from '../../host/api.js';
import { main } from '../../host/cli.js';
import { conformanceCommand } from '../../host/conformance/command.js';
import type { CallHandle, Driver, Outcome } from '../../host/conformance/driver.js';
import type { BackendEntry } from '../../host/conformance/runner.js';

/** A backend that only knows msgget (ids from 1), enough to pass or fail a one-step scenario. */
class MsggetDriver implements Driver {
  readonly backend = 'emu' as const;
  readonly settlesExactly = true;
  private id = 0;
  async start(): Promise<void> {}
  pid(): number {
    return 1;
  }
  call(): CallHandle {
    const outcome: Outcome = { ok: true, value: ++this.id };
    return { op: 'msgget', outcome, done: Promise.resolve(outcome) };
  }
  async settle(): Promise<void> {}
  async interrupt(): Promise<void> {}
  async fork(): Promise<void> {}
  async exit(): Promise<void> {}
  async close(): Promise<void> {}
}

const dir = mkdtempSync(join(tmpdir(), 'ipcemu-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const scenario = (title: string, expect: unknown) => ({
  format: 1,
  title,
  actors: { A: {} },
  steps: [{ by: 'A', call: ['msgget', 'IPC_PRIVATE', 'IPC_CREAT|0600'], expect }],
});
writeFileSync(join(dir, 'a.json'), JSON.stringify(scenario('gets id 1', 1)));
writeFileSync(join(dir, 'b.json'), JSON.stringify(scenario('gets id 7', 7)));
const passing = join(dir, 'a.json');

function backends(nativeReason = 'the addon did not load') {
  return async (names: readonly BackendName[]): Promise<BackendEntry[]> =>
    names.map((name) => (name === 'emu' ? { name, makeDriver: () => new MsggetDriver() } : { name, unavailable: nativeReason }));
}

async function cli(argv: string[], loadBackends = backends()) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await conformanceCommand(argv, { out: (l) => out.push(l), err: (l) => err.push(l) }, { paths: [dir], loadBackends });
  return { code, out, err };
}

describe('ipcemu conformance', () => {
  it('runs the default paths on every backend, with a header per backend and the totals', async () => {
    const r = await cli([]);
    expect(r.out).toEqual([
      '# backend: emu',
      'PASS gets id 1',
      'FAIL gets id 7: step 1: expected 7, got 1',
      '# backend: native (unavailable: the addon did not load)',
      '1 passed, 1 failed, 0 skipped',
    ]);
    expect(r.code).toBe(1);
  });

  it('exits 0 when nothing failed; one backend prints no header', async () => {
    const r = await cli(['--backend', 'emu', passing]);
    expect(r.out).toEqual(['PASS gets id 1', '1 passed, 0 failed, 0 skipped']);
    expect(r.code).toBe(0);
    expect((await cli(['--backend=all', '--', passing])).code).toBe(0);
  });

  it('fails when the one backend asked for, or the emulator, is not available', async () => {
    const native = await cli(['--backend', 'native', passing]);
    expect(native.out).toEqual(['# backend: native (unavailable: the addon did not load)', '0 passed, 0 failed, 0 skipped']);
    expect(native.err).toEqual(['ipcemu conformance: the native backend is not available here: the addon did not load']);
    expect(native.code).toBe(1);
    const noEmu = await cli([passing], async () => [{ name: 'emu', unavailable: 'no wasm' }, { name: 'native', makeDriver: () => new MsggetDriver() }]);
    expect(noEmu.code).toBe(1);
  });

  it('prints one JSON report with --json', async () => {
    const r = await cli(['--json', '--settle', '20']);
    expect(r.out).toHaveLength(1);
    const report = JSON.parse(r.out[0]!);
    expect(report).toMatchObject({ passed: 1, failed: 1, skipped: 0 });
    expect(report.backends[0].results[1]).toMatchObject({ title: 'gets id 7', status: 'fail', step: 1, expected: 7, actual: 1 });
    expect(report.backends[1]).toEqual({ backend: 'native', unavailable: 'the addon did not load', results: [] });
  });

  it('answers usage errors with status 2', async () => {
    for (const argv of [['--backend', 'wasm'], ['--backend'], ['--settle', 'soon'], ['--verbose']]) {
      const r = await cli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err[0]).toMatch(/^ipcemu conformance: /);
      expect(r.out).toEqual([]);
    }
  });

  it('prints its help', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/^usage: ipcemu conformance \[--backend emu\|native\|all\] \[--json\] \[--settle MS\] \[PATH\.\.\.\]/);
  });
});

describe('ipcemu', () => {
  const run = async (argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  it('lists its commands with --help, and refuses unknown ones', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/commands:\n {2}conformance {2}run the conformance scenarios/);
    expect((await run([])).code).toBe(2);
    const bogus = await run(['fuzzz']);
    expect(bogus.code).toBe(2);
    expect(bogus.err).toMatch(/unknown command "fuzzz"/);
  });

  it('passes a command its own arguments', async () => {
    const r = await run(['conformance', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^usage: ipcemu conformance/);
  });
});
