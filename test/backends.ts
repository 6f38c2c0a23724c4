/**
 * The backends a test body runs against, serialport-style: one body, each
 * backend in turn, and a backend that is not available here shows up as
 * skipped with its reason — never hidden by an `if`.
 */

import type { BackendName, Process } from '../host/api.js';
import { openEmulator } from '../host/emu/index.js';

export interface TestBackend {
  readonly name: BackendName;
  /** Why it cannot run here, or undefined when it can. */
  readonly unavailable: string | undefined;
  /** A process to make calls with (a fresh simulated one, or this process). */
  process(): Promise<Process>;
}

async function nativeBackend(): Promise<TestBackend> {
  try {
    const { openNative } = await import('../host/native/index.js');
    const kernel = openNative();
    return { name: 'native', unavailable: undefined, process: async () => kernel.self() };
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return { name: 'native', unavailable: reason, process: () => Promise.reject(new Error(reason)) };
  }
}

export const BACKENDS: readonly TestBackend[] = [
  { name: 'emu', unavailable: undefined, process: async () => (await openEmulator()).spawn() },
  await nativeBackend(),
];
