/**
 * The calling process on the real kernel: the Process of api.ts, each call
 * made by the addon for this very process (its pid, its credentials).
 */

import type { CallOptions, Message, MsqidSet, MType, Process, Received } from '../api.js';
import type { MsgCalls } from './msg.js';

export class NativeProcess implements Process {
  readonly backend = 'native' as const;
  readonly pid = process.pid;

  constructor(private readonly msg: MsgCalls) {}

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
}
