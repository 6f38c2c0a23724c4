/**
 * The conformance suite: every scenario under test/conformance/ on every
 * backend, one test per (backend, scenario) named by its title. A backend
 * that cannot run here shows each of its tests as skipped with the reason;
 * a scenario whose `requires` does not hold is skipped with its reason.
 */

import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadBackends } from '../host/conformance/backends.js';
import { resultLine } from '../host/conformance/report.js';
import { loadScenarios, runScenario } from '../host/conformance/runner.js';

const SCENARIOS = fileURLToPath(new URL('./conformance', import.meta.url));
const scenarios = loadScenarios([SCENARIOS]);
const backends = await loadBackends();

it(`finds scenarios under ${SCENARIOS}`, () => {
  expect(scenarios.length).toBeGreaterThan(0);
});

for (const b of backends) {
  const why = b.unavailable === undefined ? '' : ` (unavailable: ${b.unavailable})`;
  describe(`${b.name}${why}`, () => {
    for (const s of scenarios) {
      it.skipIf(b.unavailable !== undefined)(`${s.title}${why}`, async ({ skip }) => {
        const r = await runScenario(s, b.makeDriver!);
        if (r.status === 'skip') skip(r.reason);
        if (r.status === 'fail') expect.fail(`${resultLine(r)}\n  (${s.file})`);
      });
    }
  });
}
