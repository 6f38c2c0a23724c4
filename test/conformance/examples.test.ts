/**
 * kref's kernel-verified example scenarios (shared/conformance/examples):
 * every one must load and validate here as it does in kref, and those that
 * use only the operations the backends implement must pass on the emulator.
 * The directory lives beside the repository on the project's machines; where
 * it is absent these tests show as skipped with that reason.
 */

import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EmuDriver } from '../../host/conformance/emu-driver.js';
import { SUPPORTED_OPS } from '../../host/conformance/ops.js';
import { resultLine } from '../../host/conformance/report.js';
import { loadScenarios, runScenario } from '../../host/conformance/runner.js';

const EXAMPLES = '/work/shared/conformance/examples';
const present = existsSync(EXAMPLES);
const loaded = present ? loadScenarios([EXAMPLES]) : [];
const supported = loaded.filter((l) => l.scenario?.steps.every((s) => s.kind !== 'call' || SUPPORTED_OPS.has(s.op)));

describe.skipIf(!present)(`kref's examples in ${EXAMPLES}${present ? '' : ' (not on this machine)'}`, () => {
  it('all 37 load and validate', () => {
    expect(loaded).toHaveLength(37);
    for (const l of loaded) expect(l.error?.message, l.file).toBeUndefined();
  });

  it('those with only message-queue, semaphore and descriptor operations are all but the shm and POSIX queue ones', () => {
    expect(supported.map((l) => basename(l.file).slice(0, 2))).toEqual([
      '01', '02', '03', '04', '05', '06', '07', '09', '10', '11', '13', '14', '16', '17', '19', '20',
      '21', '22', '23', '24', '25', '26', '27', '29', '31', '32', '33', '36', '37',
    ]);
  });

  it('one with an operation the emulator lacks fails as unsupported, never skips', async () => {
    const shm = loaded.find((l) => basename(l.file).startsWith('08_'))!;
    const r = await runScenario(shm, () => new EmuDriver());
    expect(resultLine(r)).toBe(`FAIL ${shm.title}: step 1: unsupported operation shmget on this backend`);
  });

  for (const l of supported) {
    it(`emu: ${basename(l.file)}`, async () => {
      const r = await runScenario(l, () => new EmuDriver());
      if (r.status !== 'pass') expect.fail(resultLine(r));
    });
  }
});
