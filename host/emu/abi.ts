/**
 * The wasm core's ABI as the host sees it: the exports and the layout of the
 * cells. assembly/index.ts documents it; assembly/abi.ts is the other half
 * of this mirror, and ABI_VERSION changes whenever either changes.
 */

import type { WasmMemory } from './wasm.js';

export const ABI_VERSION = 6;

/** What a call answers when it went to sleep (its token is in the TOKEN cell). */
export const PENDING = -0x10000;
/** msgsnd's (semop's, SETALL's) answer when the staging buffer cannot hold the text (ops, values): nothing happened; reserve and call again. */
export const NEED_STAGE = -0x10002;
/** SETALL's answer when the count of values is not the set's nsems (which is in the AUX cell). */
export const VALUES_MISMATCH = -0x10003;
/** fd_write_plan's answer for a descriptor whose bytes cannot be planned (a socket): stage them and call fd_write. */
export const NEED_COPY = -0x10004;

/** interrupt()'s answers. */
export const INTR = { NONE: 0, CANCELLED: 1, COMPLETED: 2, SLEEPING: 3 } as const;

/** path_stat's answers. */
export const STAT_TYPE: Readonly<Record<number, 'fifo' | 'socket' | 'file' | 'dir' | 'other'>> = {
  1: 'fifo', 2: 'socket', 3: 'file', 4: 'dir', 5: 'other',
};

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
  AUX2: 53,
  COMMIT: 54,
  NSEG: 55,
  SEGS: 64,
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

/** Completion entries: [token, result, a (mtype lo; recv's bytes copied), b (mtype hi), address of the bytes, 0, 0, 0] as i32. */
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
  proc_sigpipes(pid: number): number;
  msgget(pid: number, key: number, msgflg: number): number;
  msgsnd(pid: number, msqid: number, msgsz: number, mtypeLo: number, mtypeHi: number, msgflg: number): number;
  msgrcv(pid: number, msqid: number, msgsz: number, msgtypLo: number, msgtypHi: number, msgflg: number): number;
  msgctl(pid: number, msqid: number, cmd: number, mask: number, uid: number, gid: number, mode: number, qbytes: number): number;
  set_sem_limits(semmsl: number, semmns: number, semopm: number, semmni: number): number;
  semget(pid: number, key: number, nsems: number, semflg: number): number;
  semop(pid: number, semid: number, nsops: number, badTimeout: number): number;
  semop1(pid: number, semid: number, num: number, op: number, flg: number): number;
  semctl(pid: number, semid: number, semnum: number, cmd: number, arg: number, mask: number, uid: number, gid: number, mode: number): number;
  interrupt(token: number, restart: number): number;
  set_pipe_limits(maxSize: number, soft: number, hard: number): number;
  pipe2(pid: number, flags: number): number;
  fd_close(pid: number, fd: number): number;
  fd_fcntl(pid: number, fd: number, cmd: number, arg: number): number;
  fd_ioctl(pid: number, fd: number, request: number): number;
  fd_dup2(pid: number, oldfd: number, newfd: number): number;
  fd_dup3(pid: number, oldfd: number, newfd: number, flags: number): number;
  fd_read(pid: number, fd: number, count: number, nonblock: number): number;
  fd_read_plan(pid: number, fd: number, count: number): number;
  fd_write(pid: number, fd: number, len: number, nonblock: number): number;
  fd_write_plan(pid: number, fd: number, len: number): number;
  commit(): void;
  fd_poll(pid: number, fd: number, events: number, wait: number): number;
  fd_poll_set(pid: number, n: number, wait: number): number;
  fifo_make(pid: number, len: number, mode: number, slash: number): number;
  fifo_unlink(pid: number, len: number, slash: number): number;
  path_stat(pid: number, len: number, slash: number): number;
  fifo_open(pid: number, len: number, flags: number, how: number, mode: number): number;
  socketpair(pid: number, domain: number, type: number, protocol: number): number;
  sock_send(pid: number, fd: number, len: number, flags: number): number;
  sock_recv(pid: number, fd: number, count: number, flags: number): number;
  sock_sendto(pid: number, fd: number, len: number, flags: number, nameLen: number, how: number): number;
  sock_recvfrom(pid: number, fd: number, count: number, flags: number): number;
  sock_shutdown(pid: number, fd: number, how: number): number;
  sock_setopt(pid: number, fd: number, level: number, optname: number, value: number): number;
  sock_getopt(pid: number, fd: number, level: number, optname: number): number;
  sock_socket(pid: number, domain: number, type: number, protocol: number): number;
  sock_bind(pid: number, fd: number, len: number, how: number, nameLen: number): number;
  sock_name(pid: number, fd: number, peer: number): number;
  sock_listen(pid: number, fd: number, backlog: number): number;
  sock_connect(pid: number, fd: number, len: number, how: number): number;
  sock_accept(pid: number, fd: number, flags: number): number;
  mem_in_use(): number;
  waiters_live(): number;
  debug_trap(kind: number): void;
}
