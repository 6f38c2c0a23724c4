/**
 * Shared pieces of the emulator's unit tests: kernels of both builds (the
 * debug build runs the core's assertions), bytes, errno expectations, and a
 * check that nothing is left asleep or pending when a test ends.
 */

import { expect } from 'vitest';
import type { Emulator, MsqidDs, SimProcess, SpawnOptions } from '../../host/api.js';
import { IPC_CREAT, IPC_PRIVATE, IPC_RMID, IPC_STAT } from '../../host/constants.js';
import { IpcError } from '../../host/errors.js';
import { emulatorUsage, openEmulator, type EmulatorOptions, type KernelBuild } from '../../host/emu/index.js';

export const BUILDS: readonly KernelBuild[] = ['release', 'debug'];

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
export const str = (b: Uint8Array): string => new TextDecoder().decode(b);

/** A kernel with one root process. */
export async function kernel(build: KernelBuild, options: EmulatorOptions = {}): Promise<{ k: Emulator; root: SimProcess }> {
  const k = await openEmulator({ ...options, build });
  return { k, root: k.spawn() };
}

/** A fresh private queue owned by `p`, mode 0666 unless given. */
export function queue(p: SimProcess, mode = 0o666): number {
  return p.msgget(IPC_PRIVATE, IPC_CREAT | mode);
}

export function stat(p: SimProcess, q: number): MsqidDs {
  return p.msgctl(q, IPC_STAT);
}

/** What a call threw (or undefined). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

export function expectErrno(fn: () => unknown, code: string): void {
  const error = thrown(fn);
  expect(error, `expected ${code}`).toBeInstanceOf(IpcError);
  expect((error as IpcError).code).toBe(code);
}

export async function expectRejects(promise: Promise<unknown>, code: string): Promise<IpcError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error, `expected ${code}`).toBeInstanceOf(IpcError);
  expect((error as IpcError).code).toBe(code);
  return error as IpcError;
}

/** One macrotask turn: every completion a call caused is settled by then. */
export const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Whether a promise is still pending after a turn. */
export async function pending(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(() => { settled = true; }, () => { settled = true; });
  await turn();
  return !settled;
}

/** Removes the queues, then checks that no call is left asleep in the core or waited on by the host. */
export function cleanUp(k: Emulator, p: SimProcess, ...queues: number[]): void {
  for (const q of queues) p.msgctl(q, IPC_RMID);
  const usage = emulatorUsage(k);
  expect(usage.sleeping).toBe(0);
  expect(usage.pending).toBe(0);
}

/** A process of another user (uid = gid = 1000 unless given; no capabilities). */
export function user(k: Emulator, opts: SpawnOptions = {}): SimProcess {
  return k.spawn({ uid: 1000, ...opts });
}
