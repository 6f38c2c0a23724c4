/**
 * An emulated kernel: one wasm instance with its own objects, sysctls and
 * processes (one IPC namespace). spawn() makes processes; limits and
 * setLimits() are its /proc/sys/kernel/msg* and kernel/sem.
 */

import type { Emulator, Limits, SimProcess, SpawnOptions } from '../api.js';
import { DEFAULT_LIMITS } from '../constants.js';
import { IpcError } from '../errors.js';
import type { KernelCore } from './kernel.js';
import { EmuProcess } from './process.js';

/** CapEff of a root process holding every capability of Linux 6.x (CAP_LAST_CAP is 40). */
export const ALL_CAPS = (1n << 41n) - 1n;
/** NGROUPS_MAX. */
const NGROUPS_MAX = 65536;
/**
 * What each sysctl accepts: ints from 0 (proc_dointvec_minmax's bounds for
 * msg*; kernel.sem takes negative values too, which the model refuses),
 * msgmni and semmni up to IPCMNI.
 */
const LIMIT_MAX: Limits = {
  msgmax: 0x7fffffff, msgmnb: 0x7fffffff, msgmni: 32768,
  semmsl: 0x7fffffff, semmns: 0x7fffffff, semopm: 0x7fffffff, semmni: 32768,
  // round_pipe_size() refuses more than 2^31; the page counts are unsigned longs the model keeps in 32 bits
  pipe_max_size: 0x8000_0000, pipe_user_pages_soft: 0xffff_ffff, pipe_user_pages_hard: 0xffff_ffff,
};
const LIMIT_NAMES = [
  'msgmax', 'msgmnb', 'msgmni', 'semmsl', 'semmns', 'semopm', 'semmni', 'pipe_max_size', 'pipe_user_pages_soft',
  'pipe_user_pages_hard',
] as const;
/** fs.pipe-max-size as round_pipe_size() stores it: at least a page, a power of two. */
function roundPipeSize(size: number): number {
  return size <= 4096 ? 4096 : 2 ** Math.ceil(Math.log2(size));
}

/** A uid or gid: 0 ..= 2^32 - 2 ((uid_t)-1 names nobody). */
function credential(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`${name} must be an integer, got ${String(value)}`);
  if (value < 0 || value > 0xffff_fffe) throw new RangeError(`${name} must be a uid_t other than -1, got ${value}`);
  return value;
}

/** Spawn options, checked and defaulted (SpawnOptions in api.ts). */
function credentials(opts: unknown): { uid: number; gid: number; groups: number[]; caps: bigint } {
  if (opts === undefined) return { uid: 0, gid: 0, groups: [], caps: ALL_CAPS };
  if (typeof opts !== 'object' || opts === null) throw new TypeError('spawn options must be an object');
  const o = opts as SpawnOptions;
  const uid = o.uid === undefined ? 0 : credential('uid', o.uid);
  const gid = o.gid === undefined ? uid : credential('gid', o.gid);
  let groups: number[] = [];
  if (o.groups !== undefined) {
    if (!Array.isArray(o.groups)) throw new TypeError('groups must be an array of gids');
    if (o.groups.length > NGROUPS_MAX) throw new RangeError(`at most ${NGROUPS_MAX} supplementary groups`);
    groups = o.groups.map((g, i) => credential(`groups[${i}]`, g));
  }
  let caps = uid === 0 ? ALL_CAPS : 0n;
  if (o.caps !== undefined) {
    if (typeof o.caps !== 'bigint') throw new TypeError('caps must be a bigint (a CapEff mask)');
    if (o.caps < 0n || o.caps >= 1n << 64n) throw new RangeError('caps must be a 64-bit mask');
    caps = o.caps;
  }
  return { uid, gid, groups, caps };
}

/** A complete set of sysctls from `base` and the changes asked for; TypeError / RangeError for a value no sysctl takes. */
export function mergeLimits(base: Readonly<Limits>, changes: unknown): Limits {
  if (changes === undefined) return { ...base };
  if (typeof changes !== 'object' || changes === null) throw new TypeError('limits must be an object');
  const merged = { ...base };
  for (const name of LIMIT_NAMES) {
    const value = (changes as Partial<Limits>)[name];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`limits.${name} must be an integer, got ${String(value)}`);
    if (value < 0 || value > LIMIT_MAX[name]) throw new RangeError(`limits.${name} must be in 0..${LIMIT_MAX[name]}, got ${value}`);
    merged[name] = name === 'pipe_max_size' ? roundPipeSize(value) : value;
  }
  return merged;
}

export const DEFAULT_EMU_LIMITS: Readonly<Limits> = Object.freeze({
  msgmax: DEFAULT_LIMITS.msgmax,
  msgmnb: DEFAULT_LIMITS.msgmnb,
  msgmni: DEFAULT_LIMITS.msgmni,
  semmsl: DEFAULT_LIMITS.semmsl,
  semmns: DEFAULT_LIMITS.semmns,
  semopm: DEFAULT_LIMITS.semopm,
  semmni: DEFAULT_LIMITS.semmni,
  pipe_max_size: 1048576,
  pipe_user_pages_soft: 16384,
  pipe_user_pages_hard: 0,
});

export class EmuEmulator implements Emulator {
  readonly backend = 'emu' as const;
  private current: Readonly<Limits>;

  constructor(readonly core: KernelCore, limits: Readonly<Limits>) {
    this.current = Object.freeze({ ...limits });
  }

  get limits(): Readonly<Limits> {
    return this.current;
  }

  setLimits(limits: Partial<Limits>): void {
    const next = mergeLimits(this.current, limits);
    const was = this.current;
    if (this.core.setLimits(next.msgmax, next.msgmnb, next.msgmni) < 0) {
      throw new RangeError(`the kernel refused limits ${JSON.stringify(next)}`);
    }
    if (this.core.setSemLimits(next.semmsl, next.semmns, next.semopm, next.semmni) < 0) {
      this.core.setLimits(was.msgmax, was.msgmnb, was.msgmni); // all or nothing
      throw new RangeError(`the kernel refused limits ${JSON.stringify(next)}`);
    }
    if (this.core.setPipeLimits(next.pipe_max_size, next.pipe_user_pages_soft, next.pipe_user_pages_hard) < 0) {
      this.core.setLimits(was.msgmax, was.msgmnb, was.msgmni);
      this.core.setSemLimits(was.semmsl, was.semmns, was.semopm, was.semmni);
      throw new RangeError(`the kernel refused limits ${JSON.stringify(next)}`);
    }
    this.current = Object.freeze(next);
  }

  spawn(opts?: SpawnOptions): SimProcess {
    const { uid, gid, groups, caps } = credentials(opts);
    const pid = this.core.spawn(uid, gid, groups, caps);
    if (pid < 0) throw new IpcError(-pid, 'spawn');
    return new EmuProcess(this.core, pid, uid, gid);
  }
}
