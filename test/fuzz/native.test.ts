/**
 * The fuzzer against the real kernel: a bounded run that must find no
 * divergence (a divergence is a finding about the emulator: its minimized
 * scenario is in the failure message) and leave no queue behind.
 */

import { describe, expect, it } from 'vitest';
import { IPC_STAT } from '../../host/constants.js';
import { IpcError } from '../../host/errors.js';
import { fuzzMain } from '../../host/fuzz/cli.js';
import { emuLane, machineLimits, nativeLane, type LaneKind } from '../../host/fuzz/lane.js';
import { fuzz } from '../../host/fuzz/run.js';
import { scenarioText } from '../../host/fuzz/scenario-out.js';
import { defaultActors } from '../../host/fuzz/trace.js';
import { recording } from './helpers.js';

const native = await nativeLane();
const unavailable = 'unavailable' in native ? native.unavailable : undefined;
const title = unavailable === undefined ? 'the fuzzer against the kernel' : `the fuzzer against the kernel (skipped: native unavailable: ${unavailable})`;

describe.skipIf(unavailable !== undefined)(title, () => {
  it('runs 2000 operations without a divergence and leaves no queue or set behind', { timeout: 120_000 }, async () => {
    const reference = recording(native as LaneKind);
    const seed = 20261127;
    const report = await fuzz({ subject: emuLane(), reference }, {
      seed, ops: 2000, actors: defaultActors(4), episode: 200, limits: machineLimits(),
      msgCopy: (await reference.probe?.('msg_copy')) !== false, command: `ipcemu fuzz --seed ${seed} --ops 2000 --actors 4`,
    });
    await reference.close();
    const findings = report.divergences.map((d) => `${d.signature}\n${d.scenario ? scenarioText(d.scenario) : `(as divergence ${d.sameAs})`}`);
    expect(findings, findings.join('\n')).toEqual([]);
    expect(report.operations).toBeGreaterThanOrEqual(2000);

    expect(reference.ids.length).toBeGreaterThan(50);
    const { openNative } = await import('../../host/native/index.js');
    const self = openNative().self();
    const left = reference.ids.filter(({ kind, id }) => {
      try {
        if (kind === 'sem') self.semctl(id, 0, IPC_STAT);
        else self.msgctl(id, IPC_STAT);
        return true;
      } catch (e) {
        if (e instanceof IpcError && e.code === 'EINVAL') return false;
        throw e;
      }
    });
    expect(left).toEqual([]);
  });

  it('runs 2000 semaphore operations without a divergence and leaves no set behind', { timeout: 120_000 }, async () => {
    const reference = recording(native as LaneKind);
    const seed = 20261128;
    const report = await fuzz({ subject: emuLane(), reference }, {
      seed, ops: 2000, actors: defaultActors(4), episode: 200, limits: machineLimits(), msgCopy: true, kinds: ['sem'],
      command: `ipcemu fuzz --seed ${seed} --ops 2000 --actors 4 --kinds sem`,
    });
    await reference.close();
    const findings = report.divergences.map((d) => `${d.signature}\n${d.scenario ? scenarioText(d.scenario) : `(as divergence ${d.sameAs})`}`);
    expect(findings, findings.join('\n')).toEqual([]);
    expect(report.operations).toBeGreaterThanOrEqual(2000);
    expect(reference.ids.filter((c) => c.kind === 'sem').length).toBeGreaterThan(50);
    const { openNative } = await import('../../host/native/index.js');
    const self = openNative().self();
    const left = reference.ids.filter(({ id }) => {
      try {
        self.semctl(id, 0, IPC_STAT);
        return true;
      } catch (e) {
        if (e instanceof IpcError && e.code === 'EINVAL') return false;
        throw e;
      }
    });
    expect(left).toEqual([]);
  });

  it('answers on the command line with the totals and status 0', { timeout: 60_000 }, async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await fuzzMain(['--ops', '300', '--seed', '5'], { out: (l) => void out.push(l), err: (l) => void err.push(l) });
    expect(err).toEqual([]);
    expect(out[out.length - 1]).toBe('300 operations, 0 divergences');
    expect(code).toBe(0);
  });
});
