/**
 * The backends a suite can run on: the emulator everywhere, the native
 * backend where its addon loads. A backend that cannot run here is still
 * listed, with the reason, so reports show it instead of hiding it. Both are
 * imported lazily, so one that fails to load never takes the other down.
 */

import type { BackendName } from '../api.js';
import type { BackendEntry } from './runner.js';

export const BACKEND_NAMES: readonly BackendName[] = ['emu', 'native'];

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? 'unknown error';
}

/** The native backend: available when the addon loads and openNative() answers, and its driver loads. */
export async function nativeBackend(): Promise<BackendEntry> {
  try {
    const { openNative } = await import('../native/index.js');
    openNative();
    const { NativeDriver } = await import('./native-driver.js');
    return { name: 'native', makeDriver: () => new NativeDriver() };
  } catch (e) {
    return { name: 'native', unavailable: firstLine(e) };
  }
}

/** The emulator: available wherever its module loads (the wasm itself loads per kernel, in start()). */
export async function emuBackend(): Promise<BackendEntry> {
  try {
    const { EmuDriver } = await import('./emu-driver.js');
    return { name: 'emu', makeDriver: () => new EmuDriver() };
  } catch (e) {
    return { name: 'emu', unavailable: firstLine(e) };
  }
}

/** The backends named (in BACKEND_NAMES order), each available or with its reason. */
export async function loadBackends(names: readonly BackendName[] = BACKEND_NAMES): Promise<BackendEntry[]> {
  const out: BackendEntry[] = [];
  for (const name of BACKEND_NAMES) {
    if (names.includes(name)) out.push(name === 'emu' ? await emuBackend() : await nativeBackend());
  }
  return out;
}
