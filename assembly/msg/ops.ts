/**
 * msgget, msgsnd, msgrcv, msgctl: ipc/msg.c's do_msgsnd, do_msgrcv,
 * pipelined_send, ss_wakeup, expunge_all, msgctl_down, msgctl_info and
 * msgctl_stat, with their error order.
 *
 * The kernel's sleeping loops become tries: trySend/tryReceive do one pass
 * of the kernel's for(;;) body and answer WOULD_BLOCK where it would
 * schedule(); the caller then parks a waiter, or, for a woken sleeper
 * retrying, puts it back at the tail of its list, as the kernel's loop does
 * (ss_add / list_add_tail).
 */

import { C_INFO, C_MTYPE_HI, C_MTYPE_LO, C_STAT, C_TOKEN, cellAddr, NEED_STAGE, now, reserveStage, retire, stage, stageBytes } from '../abi';
import { E2BIG, EACCES, EAGAIN, EIDRM, EINVAL, ENOMEM, ENOMSG, EPERM } from '../errno';
import { ipcDenied, ipcMayChange, ipcUpdatePerm, S_IRUGO, S_IWUGO } from '../ipc/perm';
import { ipcGet, IPC_NOWAIT, maxIdx, newRegistry, obtain, obtainByIndex } from '../ipc/registry';
import { msgCtlMax, msgCtlMnb, msgCtlMni, MSGMAP, MSGPOOL, MSGSEG, MSGSSZ, MSGTQL } from '../limits';
import { copyBytes } from '../mem/alloc';
import { CAP_SYS_RESOURCE, hasCap, Process } from '../proc/process';
import {
  complete, listAppend, listMoveTail, listRemove, park, PENDING, registerKind, wake, Waiter,
} from '../wait/waiters';
import {
  freeQueue, msgIds, MsgQueue, newQueue, receivers, senders, setMsgIds, sumTotals, totalBytes, totalMsgs,
} from './queue';
import {
  allocMsg, enqueue, findMsg, freeMsg, Msg, msgText, reserveType, SEARCH_ANY, SEARCH_EQUAL, SEARCH_LESSEQUAL,
  SEARCH_NOTEQUAL, SEARCH_NUMBER, testMsg, unlink,
} from './store';

export const MSG_NOERROR: i32 = 0o10000;
export const MSG_EXCEPT: i32 = 0o20000;
export const MSG_COPY: i32 = 0o40000;

export const IPC_RMID: i32 = 0;
export const IPC_SET: i32 = 1;
export const IPC_STAT: i32 = 2;
export const IPC_INFO: i32 = 3;
export const MSG_STAT: i32 = 11;
export const MSG_INFO: i32 = 12;
export const MSG_STAT_ANY: i32 = 13;

/** msgctl IPC_SET: which fields the caller gave (the others keep their values). */
export const SET_UID: i32 = 1;
export const SET_GID: i32 = 2;
export const SET_MODE: i32 = 4;
export const SET_QBYTES: i32 = 8;

/** A try's answer where the kernel would schedule(). */
const WOULD_BLOCK: i32 = -0x10001;
/** Waiter.arg2 of a sleeping sender; receivers keep their search mode (≥ 1) there. */
const SENDER: i32 = 0;

let msgKind: i32 = -1;

/** Sets up the message queue kind; false when memory is exhausted. */
export function initMsg(): bool {
  const ids = newRegistry();
  if (ids === null) return false;
  setMsgIds(ids);
  msgKind = registerKind(retryWaiter, releaseWaiter);
  return true;
}

// --- msgget ---------------------------------------------------------------

export function msgGet(p: Process, key: i32, flg: i32): i32 {
  return ipcGet(msgIds, p, key, flg, 0, newQueue, 0);
}

// --- msgsnd ---------------------------------------------------------------

/** msg_fits_inqueue(): room by bytes and, as Linux counts it, by messages against the same msg_qbytes. */
// @ts-ignore: decorator
@inline function fits(q: MsgQueue, size: u32): bool {
  return <u64>size + q.cbytes <= q.qbytes && 1 + q.qnum <= q.qbytes;
}


/**
 * do_msgsnd(): the size, the id's sign and the type are checked before
 * anything is looked up (EINVAL); the text, already in the staging buffer,
 * is copied into a new message (load_msg: ENOMEM); then the id is looked
 * up (EINVAL) and the send tried. 0, -errno, PENDING (token in C_TOKEN), or
 * NEED_STAGE (nothing happened).
 */
// @ts-ignore: decorator
@inline export function msgSnd(p: Process, msqid: i32, len: i32, mtype: i64, flags: i32): i32 {
  if (len > msgCtlMax || len < 0 || msqid < 0) return -EINVAL;
  if (mtype < 1) return -EINVAL;
  if (<usize>len > stageBytes()) return NEED_STAGE;
  const m = allocMsg(<u32>len, mtype);
  if (m === null) return -ENOMEM;
  copyBytes(msgText(m), stage(), <usize>len);
  const q = changetype<MsgQueue | null>(obtain(msgIds, msqid));
  if (q === null) {
    freeMsg(m);
    return -EINVAL;
  }
  const r = trySend(q, p, m, flags);
  if (r != WOULD_BLOCK) {
    if (r < 0) freeMsg(m);
    return r;
  }
  const w = park(msgKind, p, senders(q), changetype<usize>(q));
  if (w === null) {
    freeMsg(m);
    return -ENOMEM;
  }
  w.block = changetype<usize>(m);
  w.arg1 = <i64>m.size;
  w.arg2 = SENDER;
  w.arg3 = flags;
  store<i32>(cellAddr(C_TOKEN), w.token);
  return PENDING;
}

/**
 * One pass of do_msgsnd's loop: write permission (EACCES), removal (EIDRM),
 * room; then lspid and stime are set and the message goes to the first
 * matching sleeping receiver or onto the queue. 0 means the message is
 * taken (the caller no longer owns it).
 */
// @ts-ignore: decorator
@inline function trySend(q: MsgQueue, p: Process, m: Msg, flags: i32): i32 {
  if (ipcDenied(p, q, S_IWUGO)) return -EACCES;
  if (q.deleted) return -EIDRM;
  if (!fits(q, m.size)) return (flags & IPC_NOWAIT) ? -EAGAIN : WOULD_BLOCK;
  // the type's index entry is made before anything changes, so the send cannot fail half-way
  const node = reserveType(q, m.mtype);
  if (node == 0) return -ENOMEM;
  q.lspid = p.pid;
  q.stime = now();
  if (q.rHead == 0 || !pipelinedSend(q, m)) {
    enqueue(q, m, node);
    q.cbytes += m.size;
    q.qnum++;
  }
  return 0;
}

/**
 * pipelined_send(): the sleeping receivers, in sleep order, are offered the
 * message. The first that matches takes it without the message ever being
 * queued, and lrpid/rtime are set here, by the sender; a matching receiver
 * whose buffer is too small (no MSG_NOERROR) fails with E2BIG at once and
 * the same message moves on. Receive permission is not checked again here.
 */
function pipelinedSend(q: MsgQueue, m: Msg): bool {
  let cur = receivers(q).head;
  while (cur != 0) {
    const w = changetype<Waiter>(cur);
    cur = w.next;
    if (!testMsg(m, w.arg0, w.arg2)) continue;
    // r_maxsize: INT_MAX with MSG_NOERROR, else the buffer's size
    const maxsize: i64 = (w.arg3 & MSG_NOERROR) ? <i64>i32.MAX_VALUE : w.arg1;
    if (maxsize < <i64>m.size) {
      complete(w, -E2BIG, 0, 0, 0);
      continue;
    }
    q.lrpid = changetype<Process>(w.proc).pid;
    q.rtime = now();
    deliver(w, m, w.arg1);
    return true;
  }
  return false;
}

/** Completes a receiver with a message; the text stays readable until the next call. */
function deliver(w: Waiter, m: Msg, bufsz: i64): void {
  const n = bufsz < <i64>m.size ? <i32>bufsz : <i32>m.size;
  complete(w, n, <i32>m.mtype, <i32>(m.mtype >> 32), msgText(m));
  retire(changetype<usize>(m), offsetof<Msg>() + <usize>m.size);
}

// --- msgrcv ---------------------------------------------------------------

/** convert_mode()'s rewritten msgtyp. */
let searchType: i64 = 0;
/** The message tryReceive found (taken off the queue unless MSG_COPY). */
let found: usize = 0;

/**
 * convert_mode(): MSG_COPY searches by index; msgtyp 0 takes the first
 * message; a negative msgtyp the lowest type ≤ |msgtyp| (LONG_MIN, which
 * has no negation, as LONG_MAX); a positive one its type, or with
 * MSG_EXCEPT any other (MSG_EXCEPT means nothing for msgtyp ≤ 0).
 */
function convertMode(msgtyp: i64, flags: i32): i32 {
  searchType = msgtyp;
  if (flags & MSG_COPY) return SEARCH_NUMBER;
  if (msgtyp == 0) return SEARCH_ANY;
  if (msgtyp < 0) {
    searchType = msgtyp == i64.MIN_VALUE ? i64.MAX_VALUE : -msgtyp;
    return SEARCH_LESSEQUAL;
  }
  return (flags & MSG_EXCEPT) ? SEARCH_NOTEQUAL : SEARCH_EQUAL;
}

/**
 * do_msgrcv(): bytes copied (mtype in C_MTYPE_LO/HI, text in the staging
 * buffer), -errno, or PENDING (token in C_TOKEN). `bufsz` < 0 stands for a size whose C long
 * is negative.
 */
// @ts-ignore: decorator
@inline export function msgRcv(p: Process, msqid: i32, bufsz: i32, msgtyp: i64, flags: i32): i32 {
  if (msqid < 0 || bufsz < 0) return -EINVAL;
  let copyCap: i32 = 0;
  if (flags & MSG_COPY) {
    if ((flags & MSG_EXCEPT) || !(flags & IPC_NOWAIT)) return -EINVAL;
    // prepare_copy(): the copy holds min(bufsz, msgmax) bytes
    copyCap = bufsz < msgCtlMax ? bufsz : msgCtlMax;
  }
  const mode = convertMode(msgtyp, flags);
  const q = changetype<MsgQueue | null>(obtain(msgIds, msqid));
  if (q === null) return -EINVAL;
  const r = tryReceive(q, p, searchType, mode, bufsz, flags, copyCap, true);
  if (r >= 0) {
    // msg_handler(): the text goes out through the staging buffer (reserved by tryReceive)
    const m = changetype<Msg>(found);
    store<i32>(cellAddr(C_MTYPE_LO), <i32>m.mtype);
    store<i32>(cellAddr(C_MTYPE_HI), <i32>(m.mtype >> 32));
    copyBytes(stage(), msgText(m), <usize>r);
    if (!(flags & MSG_COPY)) freeMsg(m);
    return r;
  }
  if (r != WOULD_BLOCK) return r;
  const w = park(msgKind, p, receivers(q), changetype<usize>(q));
  if (w === null) return -ENOMEM;
  w.arg0 = searchType;
  w.arg1 = <i64>bufsz;
  w.arg2 = mode;
  w.arg3 = flags;
  store<i32>(cellAddr(C_TOKEN), w.token);
  return PENDING;
}

/**
 * One pass of do_msgrcv's loop: read permission (EACCES), removal (EIDRM),
 * find_msg; a message longer than the buffer is E2BIG and stays unless
 * MSG_NOERROR (then it is cut, and removed whole); MSG_COPY copies and
 * leaves the queue as it is (EINVAL when the copy cannot hold it: copy_msg
 * never truncates). A taken message updates qnum, rtime, lrpid and cbytes
 * (by its full size) and lets sleeping senders try again (ss_wakeup).
 * Answers the bytes to copy, with the message in `found`.
 */
// @ts-ignore: decorator
@inline function tryReceive(q: MsgQueue, p: Process, msgtyp: i64, mode: i32, bufsz: i32, flags: i32, copyCap: i32, staged: bool): i32 {
  if (ipcDenied(p, q, S_IRUGO)) return -EACCES;
  if (q.deleted) return -EIDRM;
  const m = findMsg(q, msgtyp, mode);
  if (m === null) return (flags & IPC_NOWAIT) ? -ENOMSG : WOULD_BLOCK;
  if (<u32>bufsz < m.size && !(flags & MSG_NOERROR)) return -E2BIG;
  found = changetype<usize>(m);
  const n = <u32>bufsz < m.size ? bufsz : <i32>m.size;
  if (flags & MSG_COPY) return m.size > <u32>copyCap ? -EINVAL : (staged && !reserveStage(<usize>n) ? -ENOMEM : n);
  // room for the text on its way out, before the message leaves the queue
  if (staged && !reserveStage(<usize>n)) return -ENOMEM;
  unlink(q, m);
  q.qnum--;
  q.rtime = now();
  q.lrpid = p.pid;
  q.cbytes -= m.size;
  if (q.sHead != 0) ssWakeup(q);
  return n;
}

/**
 * ss_wakeup() (not the EIDRM case): sleeping senders in FIFO order; one
 * whose message now fits is woken (it stays listed until it runs and
 * competes again, nothing reserved for it), one that does not is moved to
 * the tail, and the walk stops when it comes back to the first one moved.
 */
function ssWakeup(q: MsgQueue): void {
  let stop: usize = 0;
  let cur = senders(q).head;
  while (cur != 0) {
    const w = changetype<Waiter>(cur);
    cur = w.next;
    if (changetype<usize>(w) == stop) break;
    if (!fits(q, <u32>w.arg1)) {
      if (stop == 0) stop = changetype<usize>(w);
      listMoveTail(w);
      continue;
    }
    wake(w);
  }
}

// --- woken sleepers -------------------------------------------------------

/**
 * A woken sleeper runs its loop again: off the list, then the same pass a
 * new call makes (permission first: a tightened mode fails it with EACCES);
 * if it still cannot proceed it goes back to sleep at the tail.
 */
function retryWaiter(w: Waiter): void {
  const q = changetype<MsgQueue>(w.obj);
  const p = changetype<Process>(w.proc);
  listRemove(w);
  if (w.arg2 == SENDER) {
    const r = trySend(q, p, changetype<Msg>(w.block), w.arg3);
    if (r == WOULD_BLOCK) {
      listAppend(senders(q), w);
      return;
    }
    if (r == 0) w.block = 0; // taken by the queue or a receiver
    complete(w, r, 0, 0, 0);
    return;
  }
  const r = tryReceive(q, p, w.arg0, w.arg2, <i32>w.arg1, w.arg3, 0, false);
  if (r == WOULD_BLOCK) {
    listAppend(receivers(q), w);
    return;
  }
  if (r < 0) {
    complete(w, r, 0, 0, 0);
    return;
  }
  deliver(w, changetype<Msg>(found), w.arg1);
}

/** A sender that leaves without sending (abort, timeout, exit) frees its message. */
function releaseWaiter(w: Waiter): void {
  freeMsg(changetype<Msg>(w.block));
}

// --- msgctl ---------------------------------------------------------------

/** ksys_msgctl(): the id and the command are checked for sign first, whatever the command. */
export function msgCtl(p: Process, msqid: i32, cmd: i32, mask: i32, uid: u32, gid: u32, mode: i32, qbytes: i32): i32 {
  if (msqid < 0 || cmd < 0) return -EINVAL;
  switch (cmd) {
    case IPC_INFO:
    case MSG_INFO:
      return msgctlInfo(cmd);
    case MSG_STAT:
    case MSG_STAT_ANY:
    case IPC_STAT:
      return msgctlStat(p, msqid, cmd);
    case IPC_SET:
      return msgctlSet(p, msqid, mask, uid, gid, mode, qbytes);
    case IPC_RMID:
      return msgctlRmid(p, msqid);
  }
  return -EINVAL;
}

/**
 * msgctl_info(): the limits; MSG_INFO puts the queue count in msgpool and
 * the namespace's message and byte counts (capped to INT_MAX) in msgmap and
 * msgtql. Answers the highest index in use, 0 when there is none.
 */
function msgctlInfo(cmd: i32): i32 {
  const info = cellAddr(C_INFO);
  const full = cmd == MSG_INFO;
  if (full) sumTotals();
  store<i32>(info, full ? msgIds.inUse : MSGPOOL);
  store<i32>(info, full ? capInt(totalMsgs) : MSGMAP, 4);
  store<i32>(info, msgCtlMax, 8);
  store<i32>(info, msgCtlMnb, 12);
  store<i32>(info, msgCtlMni, 16);
  store<i32>(info, MSGSSZ, 20);
  store<i32>(info, full ? capInt(totalBytes) : MSGTQL, 24);
  store<i32>(info, MSGSEG, 28);
  const max = maxIdx(msgIds);
  return max < 0 ? 0 : max;
}

// @ts-ignore: decorator
@inline function capInt(v: u64): i32 {
  return v > <u64>i32.MAX_VALUE ? i32.MAX_VALUE : <i32>v;
}

/**
 * msgctl_stat(): IPC_STAT checks the whole id; MSG_STAT and MSG_STAT_ANY
 * take only its index bits and answer the full id. All but MSG_STAT_ANY need
 * read permission.
 */
function msgctlStat(p: Process, msqid: i32, cmd: i32): i32 {
  const q = changetype<MsgQueue | null>(cmd == IPC_STAT ? obtain(msgIds, msqid) : obtainByIndex(msgIds, msqid));
  if (q === null) return -EINVAL;
  if (cmd != MSG_STAT_ANY && ipcDenied(p, q, S_IRUGO)) return -EACCES;
  const s = cellAddr(C_STAT);
  store<f64>(s, <f64>q.key);
  store<f64>(s, <f64>q.uid, 8);
  store<f64>(s, <f64>q.gid, 16);
  store<f64>(s, <f64>q.cuid, 24);
  store<f64>(s, <f64>q.cgid, 32);
  store<f64>(s, <f64>q.mode, 40);
  store<f64>(s, <f64>q.stime, 48);
  store<f64>(s, <f64>q.rtime, 56);
  store<f64>(s, <f64>q.ctime, 64);
  store<f64>(s, <f64>q.cbytes, 72);
  store<f64>(s, <f64>q.qnum, 80);
  store<f64>(s, <f64>q.qbytes, 88);
  store<f64>(s, <f64>q.lspid, 96);
  store<f64>(s, <f64>q.lrpid, 104);
  return cmd == IPC_STAT ? 0 : q.id;
}

/**
 * msgctl_down(IPC_SET): the id (EINVAL), the caller's right to change it
 * (EPERM), msg_qbytes above msgmnb without CAP_SYS_RESOURCE (EPERM), the new
 * owner (EINVAL for (uid_t)-1); then ctime, and every sleeping receiver is
 * woken to check again (expunge_all(-EAGAIN): it fails with EACCES or sleeps
 * again) and senders that now fit are woken.
 *
 * msg_qbytes reaches msgctl_down as an int (the unsigned long of msqid_ds
 * truncated): the host passes it so, the EPERM test compares it unsigned with
 * msgmnb (an unsigned int), and q_qbytes (an unsigned long) gets it
 * sign-extended.
 */
function msgctlSet(p: Process, msqid: i32, mask: i32, uid: u32, gid: u32, mode: i32, qbytes: i32): i32 {
  const q = changetype<MsgQueue | null>(obtain(msgIds, msqid));
  if (q === null) return -EINVAL;
  if (!ipcMayChange(p, q)) return -EPERM;
  // fields the caller left out keep their values, as if read back with IPC_STAT first
  if (!(mask & SET_UID)) uid = q.uid;
  if (!(mask & SET_GID)) gid = q.gid;
  if (!(mask & SET_MODE)) mode = q.mode;
  if (!(mask & SET_QBYTES)) qbytes = <i32>q.qbytes;
  if (<u32>qbytes > <u32>msgCtlMnb && !hasCap(p, CAP_SYS_RESOURCE)) return -EPERM;
  const err = ipcUpdatePerm(q, uid, gid, mode);
  if (err != 0) return err;
  q.qbytes = <u64><i64>qbytes;
  q.ctime = now();
  let cur = receivers(q).head;
  while (cur != 0) {
    const w = changetype<Waiter>(cur);
    cur = w.next;
    wake(w);
  }
  ssWakeup(q);
  return 0;
}

/** msgctl_down(IPC_RMID): the id (EINVAL), the right to remove (EPERM), then freeque. */
function msgctlRmid(p: Process, msqid: i32): i32 {
  const q = changetype<MsgQueue | null>(obtain(msgIds, msqid));
  if (q === null) return -EINVAL;
  if (!ipcMayChange(p, q)) return -EPERM;
  freeQueue(msgIds, q);
  return 0;
}
