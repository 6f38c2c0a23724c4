/**
 * Values across the boundary: a C long as two i32 halves (never a BigInt on
 * the hot path), sizes clamped to what the core's i32 can say, and the
 * struct answers of msgctl and semctl.
 */

import type { MsgInfo, MsqidDs, MType, SemidDs, SemInfo } from '../api.js';
import { longResult, mtype as checkLong } from '../validate.js';
import { INFO, SEMINFO, SEMSTAT, STAT } from './abi.js';

const TWO32 = 4294967296;
/** 2^53 / 2^32: a high half below this (and ≥ 0) keeps the long a safe integer. */
const SAFE_HI = 0x200000;

/** The halves of the last long split; read right after splitLong. */
export const long = { lo: 0, hi: 0 };

/**
 * Splits a C long (a safe integer number or a bigint in range) into `long`;
 * TypeError / RangeError as validate.mtype. Small, so that it inlines: an
 * int32 (the usual type) is done here.
 */
export function splitLong(name: string, value: unknown): void {
  if (typeof value === 'number' && (value | 0) === value) {
    long.lo = value;
    long.hi = value >> 31;
    return;
  }
  splitWide(name, value);
}

function splitWide(name: string, value: unknown): void {
  if (typeof value === 'number' && Number.isSafeInteger(value)) {
    long.lo = value | 0;
    long.hi = Math.floor(value / TWO32);
    return;
  }
  const big = checkLong(name, value); // throws for anything else
  long.lo = Number(BigInt.asIntN(32, big));
  long.hi = Number(big >> 32n);
}

/** A C long from its halves: a number while safe, else a bigint. */
export function joinLong(lo: number, hi: number): MType {
  if (hi >= 0 && hi < SAFE_HI) return hi * TWO32 + (lo >>> 0);
  return longResult((BigInt(hi) << 32n) | BigInt(lo >>> 0));
}

/** A size_t/long size for the core: negative stays negative (-1), beyond INT_MAX becomes INT_MAX (no message is longer). */
export function clampSize(size: number): number {
  return size < 0 ? -1 : size > 0x7fffffff ? 0x7fffffff : size;
}

/** The msqid_ds the core left in the stat cells. */
export function readMsqid(f64: Float64Array, at: number): MsqidDs {
  return {
    msg_perm: {
      key: f64[at + STAT.KEY]!,
      uid: f64[at + STAT.UID]!,
      gid: f64[at + STAT.GID]!,
      cuid: f64[at + STAT.CUID]!,
      cgid: f64[at + STAT.CGID]!,
      mode: f64[at + STAT.MODE]!,
    },
    msg_stime: f64[at + STAT.STIME]!,
    msg_rtime: f64[at + STAT.RTIME]!,
    msg_ctime: f64[at + STAT.CTIME]!,
    msg_cbytes: f64[at + STAT.CBYTES]!,
    msg_qnum: f64[at + STAT.QNUM]!,
    msg_qbytes: f64[at + STAT.QBYTES]!,
    msg_lspid: f64[at + STAT.LSPID]!,
    msg_lrpid: f64[at + STAT.LRPID]!,
  };
}

/** The msginfo the core left in the info cells. */
export function readMsginfo(i32: Int32Array, at: number): MsgInfo {
  return {
    msgpool: i32[at + INFO.MSGPOOL]!,
    msgmap: i32[at + INFO.MSGMAP]!,
    msgmax: i32[at + INFO.MSGMAX]!,
    msgmnb: i32[at + INFO.MSGMNB]!,
    msgmni: i32[at + INFO.MSGMNI]!,
    msgssz: i32[at + INFO.MSGSSZ]!,
    msgtql: i32[at + INFO.MSGTQL]!,
    msgseg: i32[at + INFO.MSGSEG]!,
  };
}

/** The semid_ds the core left in the stat cells. */
export function readSemid(f64: Float64Array, at: number): SemidDs {
  return {
    sem_perm: {
      key: f64[at + SEMSTAT.KEY]!,
      uid: f64[at + SEMSTAT.UID]!,
      gid: f64[at + SEMSTAT.GID]!,
      cuid: f64[at + SEMSTAT.CUID]!,
      cgid: f64[at + SEMSTAT.CGID]!,
      mode: f64[at + SEMSTAT.MODE]!,
    },
    sem_otime: f64[at + SEMSTAT.OTIME]!,
    sem_ctime: f64[at + SEMSTAT.CTIME]!,
    sem_nsems: f64[at + SEMSTAT.NSEMS]!,
  };
}

/** The seminfo the core left in the info cells. */
export function readSeminfo(i32: Int32Array, at: number): SemInfo {
  return {
    semmap: i32[at + SEMINFO.SEMMAP]!,
    semmni: i32[at + SEMINFO.SEMMNI]!,
    semmns: i32[at + SEMINFO.SEMMNS]!,
    semmnu: i32[at + SEMINFO.SEMMNU]!,
    semmsl: i32[at + SEMINFO.SEMMSL]!,
    semopm: i32[at + SEMINFO.SEMOPM]!,
    semume: i32[at + SEMINFO.SEMUME]!,
    semusz: i32[at + SEMINFO.SEMUSZ]!,
    semvmx: i32[at + SEMINFO.SEMVMX]!,
    semaem: i32[at + SEMINFO.SEMAEM]!,
  };
}
