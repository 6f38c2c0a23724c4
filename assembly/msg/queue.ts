/**
 * The message queue object (ipc/msg.c: struct msg_queue), its creation
 * (newque) and removal (freeque), and the namespace-wide message counters
 * MSG_INFO reports.
 *
 *   MsgQueue = IpcPerm (key, ids, mode, seq, id)
 *            + times, counters, lspid/lrpid       (what IPC_STAT shows)
 *            + the messages (msg/store.ts)         FIFO + per-type index
 *            + receivers, senders                  sleeping calls, in sleep order
 */

import { EIDRM, ENOMEM } from '../errno';
import { IpcPerm, S_IRWXUGO } from '../ipc/perm';
import { addId, maxIdx, obtainByIndex, Registry, rmId } from '../ipc/registry';
import { msgCtlMnb, msgCtlMni } from '../limits';
import { alloc, free } from '../mem/alloc';
import { Process } from '../proc/process';
import { complete, listInit, Waiter, WaitList } from '../wait/waiters';
import { now } from '../abi';
import { storeFree, storeInit } from './store';

@unmanaged
export class MsgQueue extends IpcPerm {
  stime: i64;
  rtime: i64;
  ctime: i64;
  cbytes: u64;
  qnum: u64;
  qbytes: u64;
  lspid: i32;
  lrpid: i32;
  /** The queue in arrival order (Msg.next/prev). */
  head: usize;
  tail: usize;
  // receivers: a WaitList laid out in place (receivers())
  rHead: usize;
  rTail: usize;
  // senders: a WaitList laid out in place (senders())
  sHead: usize;
  sTail: usize;
  // type → TypeNode: a HashMap laid out in place (msg/store.ts)
  tmapSlots: usize;
  tmapBits: u32;
  tmapCount: u32;
  /** Min-heap of the TypeNodes that hold messages, by type. */
  heap: usize;
  heapLen: i32;
  heapCap: i32;
  /** The one TypeNode kept while empty, so a type sent and received in turn costs no map churn. */
  spare: usize;
  /** The TypeNode of the type sent last (a cache in front of the map), or 0. */
  lastNode: usize;
}

// @ts-ignore: decorator
@inline export function receivers(q: MsgQueue): WaitList {
  return changetype<WaitList>(changetype<usize>(q) + offsetof<MsgQueue>('rHead'));
}

// @ts-ignore: decorator
@inline export function senders(q: MsgQueue): WaitList {
  return changetype<WaitList>(changetype<usize>(q) + offsetof<MsgQueue>('sHead'));
}

/**
 * Messages and bytes queued in the namespace (percpu_msg_hdrs,
 * percpu_msg_bytes), as MSG_INFO reads them: summed over the queues when
 * asked, as the kernel sums its per-cpu counters, so that a send or a
 * receive keeps only its queue's counts.
 */
export let totalMsgs: u64 = 0;
export let totalBytes: u64 = 0;

export function sumTotals(): void {
  totalMsgs = 0;
  totalBytes = 0;
  for (let i = maxIdx(msgIds); i >= 0; i--) {
    const q = changetype<MsgQueue | null>(obtainByIndex(msgIds, i));
    if (q === null) continue;
    totalMsgs += q.qnum;
    totalBytes += q.cbytes;
  }
}

/** The registry of message queues (msg_ids(ns)); set up by the kernel's init. */
export let msgIds: Registry = changetype<Registry>(0);

export function setMsgIds(ids: Registry): void {
  msgIds = ids;
}

/** newque(): the mode's low nine bits, the key, ctime now, msg_qbytes = msgmnb; then ipc_addid (ENOSPC at msgmni). */
export function newQueue(ids: Registry, p: Process, key: i32, flg: i32, _arg: i64): i32 {
  const q = changetype<MsgQueue>(alloc(offsetof<MsgQueue>()));
  if (changetype<usize>(q) == 0) return -ENOMEM;
  q.mode = flg & S_IRWXUGO;
  q.key = key;
  q.stime = 0;
  q.rtime = 0;
  q.ctime = now();
  q.cbytes = 0;
  q.qnum = 0;
  // msg_ctlmnb is an unsigned int in the kernel
  q.qbytes = <u64><u32>msgCtlMnb;
  q.lspid = 0;
  q.lrpid = 0;
  listInit(receivers(q));
  listInit(senders(q));
  storeInit(q);
  const idx = addId(ids, q, msgCtlMni, p);
  if (idx < 0) {
    free(changetype<usize>(q), offsetof<MsgQueue>());
    return idx;
  }
  return q.id;
}

/**
 * freeque(): every sleeping receiver, then every sleeping sender, fails with
 * EIDRM (expunge_all, ss_wakeup(kill)); the id and key go; the messages are
 * freed.
 */
export function freeQueue(ids: Registry, q: MsgQueue): void {
  const r = receivers(q);
  while (r.head != 0) complete(changetype<Waiter>(r.head), -EIDRM, 0, 0, 0);
  const s = senders(q);
  while (s.head != 0) complete(changetype<Waiter>(s.head), -EIDRM, 0, 0, 0);
  rmId(ids, q);
  storeFree(q);
  free(changetype<usize>(q), offsetof<MsgQueue>());
}
