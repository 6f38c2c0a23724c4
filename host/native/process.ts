/**
 * The calling process on the real kernel: the Process of api.ts, each call
 * made by the addon for this very process (its pid, its credentials).
 */

import type { CallOptions, Message, MsqidSet, MType, Process, Received, SemBuf, SemidSet, Timespec } from '../api.js';
import type { MsgCalls } from './msg.js';
import type { SemCalls } from './sem.js';

/** The calls of one addon instance, by kind. */
export interface NativeCalls {
  readonly msg: MsgCalls;
  readonly sem: SemCalls;
}

export class NativeProcess implements Process {
  readonly backend = 'native' as const;
  readonly pid = process.pid;

  protected readonly msg: MsgCalls;
  protected readonly sem: SemCalls;

  constructor(calls: NativeCalls) {
    this.msg = calls.msg;
    this.sem = calls.sem;
  }

  msgget(key: number, msgflg?: number): number {
    return this.msg.msgget(key, msgflg);
  }

  msgsnd(msqid: number, mtype: MType, data: Uint8Array, msgflg?: number, opts?: CallOptions): Promise<void> {
    return this.msg.msgsnd(msqid, mtype, data, msgflg, opts);
  }

  msgsndSync(msqid: number, mtype: MType, data: Uint8Array, msgflg?: number): void {
    this.msg.msgsndSync(msqid, mtype, data, msgflg);
  }

  msgrcv(msqid: number, msgsz: number, msgtyp: MType, msgflg?: number, opts?: CallOptions): Promise<Message> {
    return this.msg.msgrcv(msqid, msgsz, msgtyp, msgflg, opts);
  }

  msgrcvSync(msqid: number, msgsz: number, msgtyp: MType, msgflg?: number): Message {
    return this.msg.msgrcvSync(msqid, msgsz, msgtyp, msgflg);
  }

  msgrcvInto(msqid: number, buf: Uint8Array, msgtyp: MType, msgflg?: number): Received {
    return this.msg.msgrcvInto(msqid, buf, msgtyp, msgflg);
  }

  // The overloads of api.ts narrow the result by command; MsgCalls answers the matching shape.
  msgctl = ((msqid: number, cmd: number, buf?: MsqidSet) => this.msg.msgctl(msqid, cmd, buf)) as Process['msgctl'];

  semget(key: number, nsems: number, semflg?: number): number {
    return this.sem.semget(key, nsems, semflg);
  }

  semop(semid: number, sops: readonly SemBuf[], opts?: CallOptions): Promise<void> {
    return this.sem.semop(semid, sops, opts);
  }

  semopSync(semid: number, sops: readonly SemBuf[]): void {
    this.sem.semopSync(semid, sops);
  }

  semtimedop(semid: number, sops: readonly SemBuf[], timeout: number | Timespec | null, opts?: CallOptions): Promise<void> {
    return this.sem.semtimedop(semid, sops, timeout, opts);
  }

  // As msgctl: SemCalls answers the shape the overloads give each command.
  semctl = ((semid: number, semnum: number, cmd: number, arg?: number | readonly number[] | SemidSet) =>
    this.sem.semctl(semid, semnum, cmd, arg)) as Process['semctl'];
}
