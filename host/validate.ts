/**
 * Argument checks done once, in the host, for every backend. They reject
 * only what cannot be handed to the kernel at all (wrong JavaScript type,
 * not an integer, outside the C type's range): a TypeError or RangeError.
 * Everything the kernel answers with an errno (a negative id, an mtype of 0,
 * a size over msgmax) passes through so that the kernel, or its model,
 * answers it.
 */

import type { CallOptions, MType } from './api.js';

const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;
const LONG_MIN = -(1n << 63n);
const LONG_MAX = (1n << 63n) - 1n;

function describe(value: unknown): string {
  return typeof value === 'bigint' ? `${value}n` : typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** A C `int` (ids, keys, flags, commands): an integer in [-2^31, 2^31). */
export function int(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer, got ${describe(value)}`);
  }
  if (value < INT32_MIN || value > INT32_MAX) {
    throw new RangeError(`${name} must fit a C int, got ${value}`);
  }
  return value;
}

/**
 * A uid_t, gid_t or mode_t (C unsigned int): any integer in [-2^31, 2^32),
 * taken as that unsigned int, as C would convert it ((uid_t)-1 is
 * 4294967295, which the kernel answers with EINVAL).
 */
export function unsigned32(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer, got ${describe(value)}`);
  }
  if (value < INT32_MIN || value > 0xffff_ffff) throw new RangeError(`${name} must fit a C unsigned int, got ${value}`);
  return value >>> 0;
}

/** Flags: an int, 0 when left out. */
export function flags(name: string, value: unknown): number {
  return value === undefined ? 0 : int(name, value);
}

/**
 * poll(2)'s descriptors as [fd, events, 0] triples of C ints, the layout
 * both backends fill the revents into. `events` is a C short: its low 16 bits.
 */
export function pollFds(name: string, value: unknown): Int32Array {
  if (!Array.isArray(value)) throw new TypeError(`${name} must be an array of { fd, events }, got ${describe(value)}`);
  const out = new Int32Array(value.length * 3);
  for (let i = 0; i < value.length; i++) {
    const entry: unknown = value[i];
    if (typeof entry !== 'object' || entry === null) throw new TypeError(`${name}[${i}] must be { fd, events }, got ${describe(entry)}`);
    const { fd, events } = entry as { fd?: unknown; events?: unknown };
    out[3 * i] = int(`${name}[${i}].fd`, fd);
    out[3 * i + 1] = int(`${name}[${i}].events`, events) & 0xffff;
  }
  return out;
}

/**
 * A C `size_t`/`long` size passed as a number: any safe integer. Negative
 * values pass through, since the kernel answers them (EINVAL).
 */
export function size(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new TypeError(`${name} must be a safe integer, got ${describe(value)}`);
  }
  return value;
}

/** A C `long` message type: a safe integer number or a bigint in the 64-bit range. */
export function mtype(name: string, value: unknown): bigint {
  if (typeof value === 'bigint') {
    if (value < LONG_MIN || value > LONG_MAX) throw new RangeError(`${name} must fit a C long, got ${value}n`);
    return value;
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new TypeError(`${name} must be a safe integer or a bigint, got ${describe(value)}`);
  }
  return BigInt(value);
}

/** The number when it is a safe integer, else the bigint: how results carry a C long. */
export function longResult(value: bigint): MType {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/** A byte buffer the kernel reads from or writes into; a detached buffer is a TypeError. */
export function bytes(name: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${name} must be a Uint8Array, got ${value === null ? 'null' : typeof value}`);
  }
  // Only an empty view can sit on a detached buffer; checking its length first keeps the hot path cheap
  // (.length is inlined for a Uint8Array; .byteLength costs ~10 ns a call on Node 20).
  if (value.length === 0 && isDetached(value.buffer)) {
    throw new TypeError(`${name} is backed by a detached ArrayBuffer`);
  }
  return value;
}

function isDetached(buffer: ArrayBufferLike): boolean {
  if ('detached' in buffer) return (buffer as ArrayBuffer & { detached: boolean }).detached;
  try {
    new Uint8Array(buffer);
    return false;
  } catch {
    return true;
  }
}

/** CallOptions: `timeout` a non-negative finite number of ms, `signal` an AbortSignal. */
export function callOptions(value: unknown): CallOptions {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) throw new TypeError(`options must be an object, got ${describe(value)}`);
  const { signal, timeout, ref } = value as CallOptions;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('options.signal must be an AbortSignal');
  if (ref !== undefined && typeof ref !== 'boolean') throw new TypeError(`options.ref must be a boolean, got ${describe(ref)}`);
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 0) || !Number.isFinite(timeout))) {
    throw new RangeError(`options.timeout must be a non-negative number of milliseconds, got ${describe(timeout)}`);
  }
  return value as CallOptions;
}
