/**
 * What every friendly object shares: turning an open mode into *get flags,
 * and removing an object it made without minding that someone removed it first.
 */

import { IPC_CREAT, IPC_EXCL, IPC_PRIVATE } from '../constants.js';
import { IpcError } from '../errors.js';

/** How an object's `open` treats the key. */
export type OpenMode =
  /** The object must exist (no IPC_CREAT): ENOENT otherwise. */
  | 'open'
  /** Open it, creating it if missing (IPC_CREAT). */
  | 'create'
  /** Create it; EEXIST if it exists (IPC_CREAT | IPC_EXCL). */
  | 'exclusive';

/**
 * The *get flag for a key, mode and permission bits (default 0o600), and
 * whether a success means this call made the object (IPC_PRIVATE or
 * 'exclusive'; with 'create' Linux does not say).
 */
export function getFlags(key: number, mode: OpenMode | undefined, perms = 0o600): { flag: number; created: boolean } {
  if ((perms & ~0o777) !== 0) throw new RangeError(`perms must be permission bits (0..0o777), got ${perms}`);
  const m = mode ?? (key === IPC_PRIVATE ? 'exclusive' : 'open');
  const flag = m === 'open' ? 0 : m === 'create' ? IPC_CREAT : IPC_CREAT | IPC_EXCL;
  return { flag: flag | perms, created: key === IPC_PRIVATE || m === 'exclusive' };
}

/** Runs an IPC_RMID; an object already gone (EINVAL, EIDRM) is fine. */
export function removeQuietly(remove: () => void): void {
  try {
    remove();
  } catch (error) {
    if (!(error instanceof IpcError && (error.code === 'EINVAL' || error.code === 'EIDRM'))) throw error;
  }
}
