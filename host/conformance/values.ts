/**
 * Scenario values (FORMAT.md "Values") and their decoding into what a
 * backend is given: flags strings, keys, data forms, "$name" references,
 * timeouts, semaphore operation arrays, IPC_SET objects, POSIX queue names
 * and paths. Everything malformed is a ScenarioError; nothing here touches a
 * kernel. Integers passed as C types are taken modulo 2^32 / 2^64 as a C
 * caller's conversion would, once they fit the type signed or unsigned.
 */

import { FLAG_NAMES } from '../constants.js';
import { ScenarioError } from './scenario-error.js';

/** Small keys 1..MAX_SMALL_KEY map to keyBase + k; a run reserves KEY_WINDOW keys from its base. */
export const MAX_SMALL_KEY = 9999;
export const KEY_WINDOW = 16384;
/** The largest buffer a call may ask for (kref's limit too): larger is a scenario error. */
export const MAX_BUFFER = 64 << 20;

/** A decoded timeout: milliseconds from the call, or a raw timespec passed as the syscall takes it. */
export type Timeout = number | { sec: number | bigint; nsec: number | bigint };

/** A value as a scenario shows it, for messages. */
export function describe(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return `<${v.length} bytes>`;
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? Number(x) : x)) ?? String(v);
  } catch {
    return String(v);
  }
}

/** A JSON object (not an array, not data). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

const HEX_TOKEN = /^0[xX][0-9a-fA-F]+$/;
// kref's rule: "0600", "600", "0o600" and "0" are octal; a decimal-looking token with 8 or 9 is not a flag
const OCTAL_TOKEN = /^(?:0[oO]?[0-7]*|[0-7]+)$/;

/** A flags string's value ("IPC_CREAT|0600"), or undefined if a token is not a flag. */
export function flagsValue(s: string): bigint | undefined {
  let total = 0n;
  for (const raw of s.split('|')) {
    const tok = raw.trim();
    if (HEX_TOKEN.test(tok)) total |= BigInt(tok);
    else if (OCTAL_TOKEN.test(tok)) total |= BigInt('0o' + (tok.replace(/^0[oO]/, '') || '0'));
    else if (Object.hasOwn(FLAG_NAMES, tok)) total |= BigInt(FLAG_NAMES[tok]!);
    else return undefined;
  }
  return total;
}

/** An integer given as a number, a bigint or a flags string (FORMAT.md: flags). null is 0. */
export function integer(v: unknown, what: string): bigint {
  if (v === null) return 0n;
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new ScenarioError(`${what} must be an integer, not ${describe(v)}`);
    return BigInt(v);
  }
  if (typeof v === 'string') {
    const n = flagsValue(v);
    if (n === undefined) throw new ScenarioError(`${what}: unknown flag in ${describe(v)}`);
    return n;
  }
  throw new ScenarioError(`${what} must be a number or a flags string, not ${describe(v)}`);
}

/** A C int (ids, keys, flags, commands): it must fit 32 bits, signed or unsigned, and is taken modulo 2^32. */
export function cInt(v: unknown, what: string): number {
  const n = integer(v, what);
  if (n < -(1n << 31n) || n >= 1n << 32n) throw new ScenarioError(`${what} ${n} does not fit 32 bits`);
  return Number(BigInt.asIntN(32, n));
}

/** A C long (mtype, msgtyp): it must fit 64 bits and is taken modulo 2^64; a number while safe, else a bigint. */
export function cLong(v: unknown, what: string): number | bigint {
  const n = integer(v, what);
  if (n < -(1n << 63n) || n >= 1n << 64n) throw new ScenarioError(`${what} ${n} does not fit 64 bits`);
  const signed = BigInt.asIntN(64, n);
  return signed >= BigInt(Number.MIN_SAFE_INTEGER) && signed <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(signed) : signed;
}

/** A plain integer field (uid, gid, msg_qbytes): a safe integer. */
export function safeInt(v: unknown, what: string): number {
  const n = integer(v, what);
  if (n < BigInt(Number.MIN_SAFE_INTEGER) || n > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ScenarioError(`${what} ${n} is beyond what this runner passes (2^53)`);
  }
  return Number(n);
}

/** A buffer size the kernel is given as it is (msgrcv's msgsz: negative passes, the kernel answers EINVAL). */
export function bufferSize(v: unknown, what: string): number {
  const n = safeInt(v, what);
  if (n > MAX_BUFFER) throw new ScenarioError(`${what} ${n} is larger than this runner supports (${MAX_BUFFER})`);
  return n;
}

/** A byte count the runner allocates (read, recv, shmread): 0..MAX_BUFFER. */
export function count(v: unknown, what: string): number {
  const n = safeInt(v, what);
  if (n < 0 || n > MAX_BUFFER) throw new ScenarioError(`${what} ${n} is out of the range this runner supports (0..${MAX_BUFFER})`);
  return n;
}

/** A command: a Linux name (optionally limited to some prefixes) or a number passed as it is. */
export function command(v: unknown, what: string, prefixes?: readonly string[]): number {
  if (typeof v === 'string') {
    if (!Object.hasOwn(FLAG_NAMES, v) || (prefixes && !prefixes.some((p) => v.startsWith(p)))) {
      throw new ScenarioError(`unknown ${what} ${describe(v)}`);
    }
    return FLAG_NAMES[v]!;
  }
  return cInt(v, what);
}

/** FORMAT.md keys: "IPC_PRIVATE" (or 0) is 0; 1..9999 is keyBase + k, unique to this run. */
export function decodeKey(v: unknown, keyBase: number): number {
  if (v === 'IPC_PRIVATE' || v === 0) return 0;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_SMALL_KEY) return keyBase + v;
  throw new ScenarioError(`key must be "IPC_PRIVATE" or 1..${MAX_SMALL_KEY}, not ${describe(v)}`);
}

/** The scenario's key for a kernel key: keyBase subtracted inside this run's window; 0 stays 0. */
export function unkey(k: number, keyBase: number): number {
  return k > keyBase && k < keyBase + KEY_WINDOW ? k - keyBase : k;
}

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** FORMAT.md data: a string (UTF-8), { hex }, { repeat, count }, or bytes a "$name" stands for. */
export function decodeData(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return encoder.encode(v);
  if (isRecord(v)) {
    const keys = Object.keys(v).sort().join(',');
    if (keys === 'hex' && typeof v.hex === 'string') {
      if (!/^(?:[0-9a-fA-F]{2})*$/.test(v.hex)) throw new ScenarioError(`bad hex data ${describe(v.hex)}`);
      return Uint8Array.from(v.hex.match(/../g) ?? [], (h) => parseInt(h, 16));
    }
    if (keys === 'count,repeat') {
      const n = typeof v.count === 'bigint' ? Number(v.count) : v.count;
      const unit = decodeData(v.repeat);
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_BUFFER || (unit.length === 0 && n > 0)) {
        throw new ScenarioError(`bad repeat data ${describe(v)}`);
      }
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i += unit.length) out.set(unit.subarray(0, Math.min(unit.length, n - i)), i);
      return out;
    }
  }
  throw new ScenarioError(`data must be a string, {hex} or {repeat, count}, not ${describe(v)}`);
}

function printable(s: string): boolean {
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (!(c === 9 || c === 10 || c === 13 || (c >= 0x20 && c !== 0x7f))) return false;
  }
  return true;
}

/** A literal string as a scenario writes it: a leading "$" doubled (FORMAT.md). */
function literal(s: string): string {
  return s.startsWith('$') ? '$' + s : s;
}

function utf8(b: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(b);
  } catch {
    return undefined;
  }
}

/**
 * Bytes as a scenario would write them, as kref prints them: a run of 32
 * bytes or more that repeats a unit of at most 16 bytes is { repeat, count };
 * printable UTF-8 is a string; anything else, and the data "blocks" (which as
 * a string would mean a blocked call), is { hex }.
 */
export function formatData(b: Uint8Array): unknown {
  if (b.length >= 32) {
    for (let len = 1; len <= 16; len++) {
      let repeats = true;
      for (let i = len; i < b.length && repeats; i++) repeats = b[i] === b[i % len];
      if (!repeats) continue;
      const unit = utf8(b.subarray(0, len));
      if (unit !== undefined) return { repeat: literal(unit), count: b.length };
      break;
    }
  }
  const s = utf8(b);
  if (s !== undefined && printable(s) && s !== 'blocks') return literal(s);
  return { hex: Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('') };
}

/**
 * Replaces "$name" and "$pid:A" everywhere in an argument structure; "$$..."
 * is the literal "$...". `lookup` answers a reference (without its "$") or
 * throws a ScenarioError. Resolved values are not resolved again.
 */
export function resolveRefs(v: unknown, lookup: (ref: string) => unknown): unknown {
  if (typeof v === 'string' && v.startsWith('$')) return v.startsWith('$$') ? v.slice(1) : lookup(v.slice(1));
  if (Array.isArray(v)) return v.map((x) => resolveRefs(x, lookup));
  if (isRecord(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = resolveRefs(x, lookup);
    return out;
  }
  return v;
}

/** Every reference ("$name" / "$pid:A", without the "$") in a raw scenario value. */
export function refsIn(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string' && v.startsWith('$') && !v.startsWith('$$')) out.push(v.slice(1));
  else if (Array.isArray(v)) for (const x of v) refsIn(x, out);
  else if (isRecord(v)) for (const x of Object.values(v)) refsIn(x, out);
  return out;
}

function timespecField(v: unknown, what: string): number | bigint {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'bigint' && v >= -(1n << 63n) && v < 1n << 63n) return v;
  throw new ScenarioError(`timespec ${what} must be an integer that fits a long, not ${describe(v)}`);
}

/** A timeout: milliseconds, or FORMAT.md's raw { sec, nsec } (malformed values included); null only where allowed. */
export function decodeTimeout(v: unknown, nullOk: boolean): Timeout | null {
  if (v === null || v === undefined) {
    if (nullOk && v === null) return null;
    throw new ScenarioError('a timeout is needed (ms, or {"sec", "nsec"})');
  }
  if (isRecord(v)) {
    if (Object.keys(v).sort().join(',') !== 'nsec,sec') throw new ScenarioError(`a timespec is {"sec": S, "nsec": N}, not ${describe(v)}`);
    return { sec: timespecField(v.sec, 'sec'), nsec: timespecField(v.nsec, 'nsec') };
  }
  return safeInt(v, 'timeout');
}

/** How long a call's own timeout may keep it asleep, in ms (0: none, expired or malformed). */
export function timeoutAllowance(t: Timeout | null | undefined, absolute: boolean): number {
  if (t === null || t === undefined) return 0;
  if (typeof t === 'number') return Math.max(t, 0);
  const sec = Number(t.sec);
  const nsec = Number(t.nsec);
  if (sec < 0 || nsec < 0 || nsec >= 1e9) return 0;
  const ms = sec * 1000 + nsec / 1e6 - (absolute ? Date.now() : 0);
  return Math.min(Math.max(ms, 0), 7 * 86_400_000);
}

/** A decoded semaphore operation, as struct sembuf holds it. */
export type SemOp = [semNum: number, semOp: number, semFlg: number];

/** semop's operations: [[sem_num, sem_op, flags?], ...], each fitting struct sembuf. */
export function decodeSemOps(v: unknown): SemOp[] {
  if (!Array.isArray(v)) throw new ScenarioError('semaphore operations must be [[sem_num, sem_op, flags], ...]');
  return v.map((o: unknown): SemOp => {
    if (!Array.isArray(o) || o.length < 2 || o.length > 3) throw new ScenarioError(`bad semaphore operation ${describe(o)}`);
    const num = safeInt(o[0], 'sem_num');
    const op = safeInt(o[1], 'sem_op');
    const flg = o.length > 2 ? cInt(o[2], 'sem_flg') : 0;
    if (num < 0 || num > 0xffff || op < -0x8000 || op > 0x7fff || flg < -0x8000 || flg > 0xffff) {
      throw new ScenarioError(`semaphore operation ${describe(o)} does not fit struct sembuf`);
    }
    return [num, op, flg >= 0x8000 ? flg - 0x10000 : flg];
  });
}

/**
 * An IPC_SET object: only `allowed` fields (the perm fields may also sit in
 * a nested `permKey` object, as IPC_STAT shows them); mode may be a flags
 * string. uid, gid and mode are C ints of struct ipc_perm: 4294967295 is
 * (uid_t)-1 and passes as -1, the same bits; msg_qbytes (an unsigned long)
 * passes as it is.
 */
export function decodeSetFields(v: unknown, allowed: readonly string[], permKey: string): Record<string, number> {
  if (!isRecord(v)) throw new ScenarioError('IPC_SET needs an object of fields');
  const out: Record<string, number> = {};
  const take = (obj: Record<string, unknown>, nested: boolean): void => {
    for (const [k, x] of Object.entries(obj)) {
      if (!nested && k === permKey && isRecord(x)) {
        take(x, true);
        continue;
      }
      if (!allowed.includes(k)) throw new ScenarioError(`IPC_SET cannot set ${describe(k)} (settable: ${allowed.join(', ')})`);
      out[k] = k === 'msg_qbytes' ? safeInt(x, k) : cInt(x, k);
    }
  };
  take(v, false);
  return out;
}

/** A POSIX queue name: "/name" gets the run's prefix; one without the leading "/" passes as it is (glibc: EINVAL). */
export function mqName(v: unknown, prefix: string): string {
  if (typeof v !== 'string') throw new ScenarioError(`queue name must be a string, not ${describe(v)}`);
  return v.startsWith('/') ? prefix + v.slice(1) : v;
}

/** A path: relative, staying inside the run's directory. */
export function fsPath(v: unknown, dir: string): string {
  if (typeof v !== 'string' || v === '') throw new ScenarioError(`path must be a non-empty string, not ${describe(v)}`);
  if (v.startsWith('/') || v.split('/').includes('..')) {
    throw new ScenarioError(`path ${describe(v)} must be relative and stay in the scenario directory`);
  }
  return `${dir.replace(/\/+$/, '')}/${v}`;
}
