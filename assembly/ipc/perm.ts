/**
 * kern_ipc_perm and the checks every SysV kind shares (ipc/util.c).
 * Each kind's object struct extends IpcPerm, so the registry and these
 * checks work on any kind.
 */

import { EINVAL } from '../errno';
import { CAP_IPC_OWNER, CAP_SYS_ADMIN, hasCap, inGroup, Process } from '../proc/process';

export const S_IRWXUGO: i32 = 0o777;
export const S_IRUGO: i32 = 0o444;
export const S_IWUGO: i32 = 0o222;

/** uid_t / gid_t (u32)-1: what make_kuid() cannot map, so never a valid id. */
export const INVALID_ID: u32 = 0xffffffff;

@unmanaged
export class IpcPerm {
  key: i32;
  uid: u32;
  gid: u32;
  cuid: u32;
  cgid: u32;
  mode: i32;
  /** The sequence number in the id's high bits. */
  seq: i32;
  /** (seq << IPCMNI_SHIFT) + index. */
  id: i32;
  /** Set by rmid: the object is gone, whatever still points at it. */
  deleted: bool;
}

/**
 * ipcperms(): true when the access `flag` asks for (its rwx bits in any of
 * the three positions) is denied. The owner class applies when the caller's
 * euid is the creator's or the owner's, the group class when the caller is in
 * the creator's or the owner's group, else the other class. CAP_IPC_OWNER
 * grants everything.
 */
// @ts-ignore: decorator
@inline export function ipcDenied(p: Process, perm: IpcPerm, flag: i32): bool {
  // the kernel tests the capability last; the answer is the same, and asking first is cheaper
  if (hasCap(p, CAP_IPC_OWNER)) return false;
  const f = <i32><i16>flag; // the kernel takes `short flag`
  const requested = (f >> 6) | (f >> 3) | f;
  let granted = perm.mode;
  if (p.uid == perm.cuid || p.uid == perm.uid) granted >>= 6;
  else if (inGroup(p, perm.cgid) || inGroup(p, perm.gid)) granted >>= 3;
  return (requested & ~granted & 0o7) != 0;
}

/**
 * ipcctl_obtain_check()'s rule for IPC_SET and IPC_RMID: the creator, the
 * owner, or CAP_SYS_ADMIN (CAP_IPC_OWNER is not enough).
 */
export function ipcMayChange(p: Process, perm: IpcPerm): bool {
  return p.uid == perm.cuid || p.uid == perm.uid || hasCap(p, CAP_SYS_ADMIN);
}

/** ipc_update_perm(): a new owner and the low nine mode bits; EINVAL for an id no user namespace maps. */
export function ipcUpdatePerm(perm: IpcPerm, uid: u32, gid: u32, mode: i32): i32 {
  if (uid == INVALID_ID || gid == INVALID_ID) return -EINVAL;
  perm.uid = uid;
  perm.gid = gid;
  perm.mode = (perm.mode & ~S_IRWXUGO) | (mode & S_IRWXUGO);
  return 0;
}
