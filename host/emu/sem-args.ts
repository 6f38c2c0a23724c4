/**
 * semop's and semctl's arguments as the core takes them: struct sembuf
 * packed into a reused Int16Array, semtimedop's timeout, SETALL's values.
 *
 * C conversions. Each field of a SemBuf must be a JavaScript integer that
 * fits a C int (else TypeError / RangeError, as for every int argument);
 * it is then stored as C stores an int in the struct's field: sem_num
 * (unsigned short) and sem_op, sem_flg (short) keep their low 16 bits, so
 * sem_num -1 is 65535 (EFBIG on any set) and sem_op 65535 is -1. SETALL's
 * values are C ints stored as unsigned short (modulo 65536: -1 is 65535,
 * ERANGE). A malformed timespec is not an error here: the core answers
 * EINVAL in the kernel's order.
 */

import type { SemBuf, Timespec } from '../api.js';
import { int } from '../validate.js';

let ops = new Int16Array(3 * 16);

/** The ops packSops() last packed. */
export function packed(): Int16Array {
  return ops;
}

/** Packs `sops` into packed() (sem_num, sem_op, sem_flg | nowait per op) and answers their count. */
export function packSops(sops: readonly SemBuf[], nowait: number): number {
  if (!Array.isArray(sops)) throw new TypeError(`sops must be an array of [sem_num, sem_op, sem_flg?], got ${describe(sops)}`);
  const n = sops.length;
  if (n * 3 > ops.length) ops = new Int16Array(Math.max(n * 3, ops.length * 2));
  for (let i = 0; i < n; i++) {
    const op: unknown = sops[i];
    if (!Array.isArray(op) || op.length < 2 || op.length > 3) {
      throw new TypeError(`sops[${i}] must be [sem_num, sem_op, sem_flg?], got ${describe(op)}`);
    }
    // Int16Array stores keep the low 16 bits: C's conversion into the struct's short fields
    const num: unknown = op[0];
    const val: unknown = op[1];
    const flg: unknown = op[2] === undefined ? 0 : op[2];
    ops[3 * i] = typeof num === 'number' && (num | 0) === num ? num : int(`sops[${i}] sem_num`, num);
    ops[3 * i + 1] = typeof val === 'number' && (val | 0) === val ? val : int(`sops[${i}] sem_op`, val);
    ops[3 * i + 2] = (typeof flg === 'number' && (flg | 0) === flg ? flg : int(`sops[${i}] sem_flg`, flg)) | nowait;
  }
  return n;
}

/** semtimedop's timeout as readSemTimeout() left it: bad 1 for a malformed timespec; ms undefined for none. */
export const semWait: { bad: number; ms: number | undefined } = { bad: 0, ms: undefined };

const LONG_MIN = -(1n << 63n);
const LONG_MAX = (1n << 63n) - 1n;

/**
 * Reads semtimedop's timeout into semWait: null (or undefined) for none; a
 * number of milliseconds (finite; a negative one stands for a negative
 * timespec, which is malformed); or a raw { sec, nsec } of C longs, malformed
 * when sec < 0 or nsec is outside [0, 1e9) (timespec64_valid()).
 */
export function readSemTimeout(value: unknown): void {
  semWait.bad = 0;
  semWait.ms = undefined;
  if (value === null || value === undefined) return;
  if (typeof value === 'number') {
    if (Number.isNaN(value)) throw new TypeError('timeout must be a number of milliseconds, a timespec or null, got NaN');
    if (!Number.isFinite(value)) throw new RangeError(`timeout must be finite, got ${value}`);
    if (value < 0) semWait.bad = 1;
    else semWait.ms = value;
    return;
  }
  if (typeof value !== 'object') throw new TypeError(`timeout must be a number of milliseconds, a timespec or null, got ${describe(value)}`);
  const sec = long('timeout.sec', (value as Timespec).sec);
  const nsec = long('timeout.nsec', (value as Timespec).nsec);
  if (sec < 0 || nsec < 0 || nsec >= 1e9) {
    semWait.bad = 1;
    return;
  }
  semWait.ms = sec * 1000 + nsec / 1e6;
}

/** A timespec field: a C long, as a safe integer or a bigint; answered as a number (precision past 2^53 does not matter for a wait). */
function long(name: string, value: unknown): number {
  if (typeof value === 'bigint') {
    if (value < LONG_MIN || value > LONG_MAX) throw new RangeError(`${name} must fit a C long, got ${value}n`);
    return Number(value);
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new TypeError(`${name} must be a safe integer or a bigint, got ${describe(value)}`);
  }
  return value;
}

/** SETALL's values as unsigned shorts; undefined for a missing array (C's NULL). */
export function setallValues(value: unknown): number[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new TypeError(`SETALL takes an array of values, got ${describe(value)}`);
  return value.map((v: unknown, i) => int(`values[${i}]`, v) & 0xffff);
}

function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(describe).join(', ')}]`;
  return String(value);
}
