/**
 * Finds and loads the addon, once. Where it cannot load, the one Error says
 * why, listing every candidate tried with what went wrong (sharp's loader
 * does the same): a user should not have to guess whether the build failed,
 * was skipped, or was built for another Node.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { RawAddon } from './addon.js';

/**
 * Relative to this module: host/native/load.ts from source and
 * dist/native/load.js once built are both two levels below the package root.
 */
const CANDIDATES = ['../../build/Release/ipcemu.node', '../../build/Debug/ipcemu.node'];

let loaded: { addon: RawAddon } | { error: Error } | undefined;

/** The raw addon, or throws the Error that says why it is not there. */
export function loadAddon(): RawAddon {
  loaded ??= tryLoad();
  if ('error' in loaded) throw loaded.error;
  return loaded.addon;
}

function tryLoad(): { addon: RawAddon } | { error: Error } {
  if (process.platform !== 'linux') {
    return { error: new Error(`ipcemu: the native backend runs on Linux only (this is ${process.platform}); the emulator (openEmulator) runs everywhere`) };
  }
  const require = createRequire(import.meta.url);
  const tried: string[] = [];
  for (const candidate of CANDIDATES) {
    const path = fileURLToPath(new URL(candidate, import.meta.url));
    if (!existsSync(path)) {
      tried.push(`  ${path}: not found`);
      continue;
    }
    try {
      return { addon: require(path) as RawAddon };
    } catch (error) {
      tried.push(`  ${path}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    }
  }
  const message = [
    'ipcemu: the native addon could not be loaded, so the native backend is unavailable.',
    'Tried:',
    ...tried,
    'Build it with `npm run build:native` (it needs a C++17 compiler, make and python3; the package\'s',
    'install script runs it unless IPCEMU_SKIP_NATIVE=1). The emulator (openEmulator) does not need it.',
  ].join('\n');
  return { error: new Error(message) };
}
