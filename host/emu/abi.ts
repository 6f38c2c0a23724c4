/**
 * The wasm core's ABI as the host sees it: the exports and the layout of the
 * cells. assembly/index.ts documents it; assembly/abi.ts is the other half
 * of this mirror, and ABI_VERSION changes whenever either changes.
 */

import type { WasmMemory } from './wasm.js';

export const ABI_VERSION = 2;

/** What a call answers when it went to sleep (its token is in the TOKEN cell). */
export const PENDING = -0x10000;
/** msgsnd's (semop's, SETALL's) answer when the staging buffer cannot hold the text (ops, values): nothing happened; reserve and call again. */
export const NEED_STAGE = -0x10002;
/** SETALL's answer when the count of values is not the set's nsems (which is in the AUX cell). */
export const VALUES_MISMATCH = -0x10003;

/** Cell offsets in i32 units from the cells' base (C_* in assembly/abi.ts, divided by 4). */
export const CELL = {
  VERSION: 0,
  COMP_COUNT: 1,
  COMP_PTR: 2,
  TOKEN: 3,
  STAGE: 4,
  MTYPE_LO: 5,
  MTYPE_HI: 6,
  STAGE_CAP: 7,
  INFO: 42,
  AUX: 52,
} as const;

/** Cell offsets in f64 units from the cells' base. */
export const CELL64 = {
  NOW: 4,
  STAT: 5,
} as const;

/** Order of the msqid_ds fields at CELL64.STAT. */
export const STAT = {
  KEY: 0, UID: 1, GID: 2, CUID: 3, CGID: 4, MODE: 5, STIME: 6, RTIME: 7, CTIME: 8,
  CBYTES: 9, QNUM: 10, QBYTES: 11, LSPID: 12, LRPID: 13,
} as const;

/** Order of the semid_ds fields at CELL64.STAT. */
export const SEMSTAT = {
  KEY: 0, UID: 1, GID: 2, CUID: 3, CGID: 4, MODE: 5, OTIME: 6, CTIME: 7, NSEMS: 8,
} as const;

/** Order of the seminfo fields at CELL.INFO. */
export const SEMINFO = {
  SEMMAP: 0, SEMMNI: 1, SEMMNS: 2, SEMMNU: 3, SEMMSL: 4, SEMOPM: 5, SEMUME: 6, SEMUSZ: 7, SEMVMX: 8, SEMAEM: 9,
} as const;

/** Order of the msginfo fields at CELL.INFO. */
export const INFO = {
  MSGPOOL: 0, MSGMAP: 1, MSGMAX: 2, MSGMNB: 3, MSGMNI: 4, MSGSSZ: 5, MSGTQL: 6, MSGSEG: 7,
} as const;

/** Completion entries: [token, result, mtype lo, mtype hi, text address, 0, 0, 0] as i32. */
export const COMP_STRIDE = 8;

/** msgctl and semctl IPC_SET: which fields are given. */
export const SET_UID = 1;
export const SET_GID = 2;
export const SET_MODE = 4;
export const SET_QBYTES = 8;

/** The core's exports (assembly/index.ts). */
export interface KernelExports {
  readonly memory: WasmMemory;
  abi_version(): number;
  cells(): number;
  init(): number;
  set_limits(msgmax: number, msgmnb: number, msgmni: number): number;
  stage_reserve(bytes: number): number;
  proc_spawn(uid: number, gid: number, capsLo: number, capsHi: number, ngroups: number): number;
  proc_fork(pid: number): number;
  proc_exit(pid: number): number;
  msgget(pid: number, key: number, msgflg: number): number;
  msgsnd(pid: number, msqid: number, msgsz: number, mtypeLo: number, mtypeHi: number, msgflg: number): number;
  msgrcv(pid: number, msqid: number, msgsz: number, msgtypLo: number, msgtypHi: number, msgflg: number): number;
  msgctl(pid: number, msqid: number, cmd: number, mask: number, uid: number, gid: number, mode: number, qbytes: number): number;
  set_sem_limits(semmsl: number, semmns: number, semopm: number, semmni: number): number;
  semget(pid: number, key: number, nsems: number, semflg: number): number;
  semop(pid: number, semid: number, nsops: number, badTimeout: number): number;
  semop1(pid: number, semid: number, num: number, op: number, flg: number): number;
  semctl(pid: number, semid: number, semnum: number, cmd: number, arg: number, mask: number, uid: number, gid: number, mode: number): number;
  cancel(token: number): number;
  mem_in_use(): number;
  waiters_live(): number;
  debug_trap(kind: number): void;
}
