/**
 * One registry per SysV kind (ipc/util.c: struct ipc_ids): keys, ids and the
 * get-or-create decision tree, written once for every kind. A kind supplies
 * its constructor (getnew) and, for sem and shm, its lookup check
 * (more_checks); everything else — IPC_PRIVATE, IPC_CREAT/IPC_EXCL, the
 * permission asked for, id allocation, removal — is here.
 *
 * Ids are (seq << 15) + index. Indices are allocated cyclically
 * (idr_alloc_cyclic) below max(in_use * 3/2, ipc_min_cycle), and seq goes up
 * whenever an index at or below the previous one is handed out, so a freed id
 * does not come back at once and a stale id fails the seq check (EINVAL).
 */

import { EEXIST, EACCES, ENOENT, ENOMEM, ENOSPC } from '../errno';
import { IPC_MIN_CYCLE, IPCID_SEQ_MAX, IPCMNI, IPCMNI_IDX_MASK, IPCMNI_SHIFT } from '../limits';
import { allocZeroed, free } from '../mem/alloc';
import { Process } from '../proc/process';
import { HashMap, mapDelete, mapGet, mapInit, mapInsert, mapReserve } from '../util/hashmap';
import { ipcDenied, IpcPerm } from './perm';

export const IPC_PRIVATE: i32 = 0;
export const IPC_CREAT: i32 = 0o1000;
export const IPC_EXCL: i32 = 0o2000;
export const IPC_NOWAIT: i32 = 0o4000;

/** Builds a new object for `key` and registers it with addId(); answers its id or -errno. */
export type GetNew = (ids: Registry, p: Process, key: i32, flg: i32, arg: i64) => i32;
/** A kind's check on an existing object before the permission check (e.g. semget's nsems); 0 or -errno. */
export type MoreChecks = (obj: IpcPerm, arg: i64) => i32;

@unmanaged
export class Registry {
  /** IPCMNI object pointers by index. */
  slots: usize;
  /** IPCMNI bits: which indices are in use (for the cyclic search). */
  used: usize;
  // key → object (a HashMap laid out in place: see keys())
  keySlots: usize;
  keyBits: u32;
  keyCount: u32;
  inUse: i32;
  /** The highest index in use, -1 for none (ids->max_idx). */
  maxIdx: i32;
  /** The index handed out last (ids->last_idx). */
  lastIdx: i32;
  seq: i32;
  /** Where the next cyclic search starts (the idr's idr_next). */
  nextIdx: i32;
}

// @ts-ignore: decorator
@inline function keys(ids: Registry): HashMap {
  return changetype<HashMap>(changetype<usize>(ids) + offsetof<Registry>('keySlots'));
}

/** An empty registry, or null when memory is exhausted. */
export function newRegistry(): Registry | null {
  const slots = allocZeroed(<usize>IPCMNI * sizeof<usize>());
  const used = allocZeroed(<usize>IPCMNI >> 3);
  const ids = changetype<Registry>(allocZeroed(offsetof<Registry>()));
  if (slots == 0 || used == 0 || changetype<usize>(ids) == 0) {
    if (slots != 0) free(slots, <usize>IPCMNI * sizeof<usize>());
    if (used != 0) free(used, <usize>IPCMNI >> 3);
    if (changetype<usize>(ids) != 0) free(changetype<usize>(ids), offsetof<Registry>());
    return null;
  }
  ids.slots = slots;
  ids.used = used;
  mapInit(keys(ids));
  ids.inUse = 0;
  ids.maxIdx = -1;
  ids.lastIdx = -1;
  ids.seq = 0;
  ids.nextIdx = 0;
  return ids;
}

/**
 * ipcget(): IPC_PRIVATE always creates. Otherwise, in ipcget_public()'s
 * order: no such key → ENOENT without IPC_CREAT, else create; the key
 * exists → EEXIST with IPC_CREAT|IPC_EXCL, then the kind's own check, then
 * the permission the flag's mode bits ask for (EACCES), then the id.
 */
export function ipcGet(ids: Registry, p: Process, key: i32, flg: i32, arg: i64, getNew: GetNew, moreChecks: usize): i32 {
  if (key == IPC_PRIVATE) return getNew(ids, p, key, flg, arg);
  const obj = changetype<IpcPerm | null>(mapGet(keys(ids), key));
  if (obj === null) {
    if (!(flg & IPC_CREAT)) return -ENOENT;
    return getNew(ids, p, key, flg, arg);
  }
  if ((flg & IPC_CREAT) && (flg & IPC_EXCL)) return -EEXIST;
  if (moreChecks != 0) {
    const err = changetype<MoreChecks>(moreChecks)(obj, arg);
    if (err != 0) return err;
  }
  if (ipcDenied(p, obj, flg)) return -EACCES;
  return obj.id;
}

/**
 * ipc_addid(): registers a new object made by `p`, which becomes its creator
 * and owner. Answers the index, or -ENOSPC once `limit` objects exist, or
 * -ENOMEM. On failure nothing has changed.
 */
export function addId(ids: Registry, obj: IpcPerm, limit: i32, p: Process): i32 {
  if (limit > IPCMNI) limit = IPCMNI;
  if (ids.inUse >= limit) return -ENOSPC;
  if (obj.key != IPC_PRIVATE && !mapReserve(keys(ids))) return -ENOMEM;

  // ipc_idr_alloc(): idr_alloc_cyclic(0, max_idx) from where the last search ended
  let max = (ids.inUse * 3) / 2;
  if (max < IPC_MIN_CYCLE) max = IPC_MIN_CYCLE;
  if (max > IPCMNI) max = IPCMNI;
  let idx = findFree(ids, ids.nextIdx, max);
  if (idx < 0 && ids.nextIdx > 0) idx = findFree(ids, 0, max);
  if (idx < 0) return -ENOSPC;
  ids.nextIdx = idx + 1;
  if (idx <= ids.lastIdx) {
    ids.seq++;
    if (ids.seq >= IPCID_SEQ_MAX) ids.seq = 0;
  }
  ids.lastIdx = idx;

  obj.cuid = obj.uid = p.uid;
  obj.cgid = obj.gid = p.gid;
  obj.deleted = false;
  obj.seq = ids.seq;
  obj.id = (ids.seq << IPCMNI_SHIFT) + idx;
  store<usize>(ids.slots + <usize>idx * sizeof<usize>(), changetype<usize>(obj));
  setUsed(ids, idx, true);
  if (obj.key != IPC_PRIVATE) mapInsert(keys(ids), obj.key, changetype<usize>(obj));
  ids.inUse++;
  if (idx > ids.maxIdx) ids.maxIdx = idx;
  return idx;
}

/** ipc_rmid(): the id and the key are gone at once; the caller frees the object. */
export function rmId(ids: Registry, obj: IpcPerm): void {
  let idx = obj.id & IPCMNI_IDX_MASK;
  store<usize>(ids.slots + <usize>idx * sizeof<usize>(), 0);
  setUsed(ids, idx, false);
  if (obj.key != IPC_PRIVATE) mapDelete(keys(ids), obj.key);
  ids.inUse--;
  obj.deleted = true;
  if (idx == ids.maxIdx) {
    idx = ids.maxIdx - 1;
    if (idx >= 0) idx = searchMaxIdx(ids, idx);
    ids.maxIdx = idx;
  }
}

/** ipc_obtain_object_idr(): the object at the id's index, whatever its seq (MSG_STAT and friends). */
export function obtainByIndex(ids: Registry, id: i32): IpcPerm | null {
  return changetype<IpcPerm | null>(load<usize>(ids.slots + <usize>(id & IPCMNI_IDX_MASK) * sizeof<usize>()));
}

/** ipc_obtain_object_check(): the object only if the id's seq matches (a stale id gives null: EINVAL). */
export function obtain(ids: Registry, id: i32): IpcPerm | null {
  const obj = obtainByIndex(ids, id);
  if (obj === null || (id >> IPCMNI_SHIFT) != obj.seq) return null;
  return obj;
}

/** ipc_get_maxidx(): the highest index in use, -1 when there is none. */
export function maxIdx(ids: Registry): i32 {
  if (ids.inUse == 0) return -1;
  if (ids.inUse == IPCMNI) return IPCMNI - 1;
  return ids.maxIdx;
}

// @ts-ignore: decorator
@inline function setUsed(ids: Registry, idx: i32, on: bool): void {
  const word = ids.used + (<usize>(idx >> 5) << 2);
  const bit = <u32>1 << <u32>(idx & 31);
  const w = load<u32>(word);
  store<u32>(word, on ? w | bit : w & ~bit);
}

/** The lowest free index in [from, end), or -1. */
function findFree(ids: Registry, from: i32, end: i32): i32 {
  if (from >= end) return -1;
  let w = from >> 5;
  // treat the bits below `from` in its first word as taken
  let taken = load<u32>(ids.used + (<usize>w << 2)) | ((<u32>1 << <u32>(from & 31)) - 1);
  const lastWord = (end - 1) >> 5;
  while (taken == 0xffffffff) {
    if (++w > lastWord) return -1;
    taken = load<u32>(ids.used + (<usize>w << 2));
  }
  const idx = (w << 5) + <i32>ctz(~taken);
  return idx < end ? idx : -1;
}

/** ipc_search_maxidx(): the highest index in use that is ≤ limit, or -1. */
function searchMaxIdx(ids: Registry, limit: i32): i32 {
  let w = limit >> 5;
  // keep only the bits at or below `limit` in its word
  const keep = (limit & 31) == 31 ? 0xffffffff : (<u32>1 << <u32>((limit & 31) + 1)) - 1;
  let bits = load<u32>(ids.used + (<usize>w << 2)) & keep;
  while (bits == 0) {
    if (--w < 0) return -1;
    bits = load<u32>(ids.used + (<usize>w << 2));
  }
  return (w << 5) + 31 - <i32>clz(bits);
}
