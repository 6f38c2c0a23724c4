/**
 * The emulator backend: `openEmulator()` gives a kernel model (a wasm
 * instance) whose `spawn()` makes simulated processes implementing the
 * Process contract of host/api.ts.
 */

import type { Emulator, Limits } from '../api.js';
import { kernelClock, type EmulatorClock } from './clock.js';
import { DEFAULT_EMU_LIMITS, EmuEmulator, mergeLimits } from './emulator.js';
import { KernelCore } from './kernel.js';
import { instantiateKernel, type KernelBuild } from './load.js';
import { hostDirectories } from './paths.js';

export type { EmulatorClock } from './clock.js';
export type { KernelBuild } from './load.js';

export interface EmulatorOptions {
  /** Sysctls to start with (msgmax, msgmnb, msgmni, semmsl, semmns, semopm, semmni, pipe_max_size, pipe_user_pages_soft, pipe_user_pages_hard); the rest are Linux's defaults. */
  limits?: Partial<Limits>;
  /**
   * Where timestamps and timeouts come from: a virtual clock for a simulator.
   * Default: the wall clock and real timers.
   */
  clock?: EmulatorClock;
  /** 'debug' runs the kernel model built with its assertions on (slower); default 'release'. */
  build?: KernelBuild;
}

/** A new emulated kernel: its own IPC objects, sysctls and processes. */
export async function openEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const build = options.build ?? 'release';
  if (build !== 'release' && build !== 'debug') throw new TypeError(`options.build must be 'release' or 'debug', got ${String(build)}`);
  const limits = mergeLimits(DEFAULT_EMU_LIMITS, options.limits);
  const [exports, clock, directories] = await Promise.all([instantiateKernel(build), kernelClock(options.clock), hostDirectories()]);
  const core = new KernelCore(exports, clock);
  core.directories = directories;
  const emulator = new EmuEmulator(core, DEFAULT_EMU_LIMITS);
  emulator.setLimits(limits);
  return emulator;
}

/**
 * What an emulated kernel holds right now: bytes of its memory in use,
 * calls asleep in the core, and calls the host waits on. For leak checks in
 * tests; not part of the public interface.
 */
export function emulatorUsage(emulator: Emulator): { bytes: number; sleeping: number; pending: number } {
  if (!(emulator instanceof EmuEmulator)) throw new TypeError('not an emulator made by openEmulator');
  return emulator.core.usage();
}

/** Test hook: makes a kernel running the debug build trap (1: an assertion, 2: unreachable). */
export function trapEmulator(emulator: Emulator, kind: 1 | 2): void {
  if (!(emulator instanceof EmuEmulator)) throw new TypeError('not an emulator made by openEmulator');
  emulator.core.trap(kind);
}
