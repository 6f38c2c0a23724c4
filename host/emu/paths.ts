/**
 * Paths for the emulator's FIFO namespace, made canonical once here so that
 * the core compares bytes: absolute (the emulated processes' working
 * directory is "/"), "." and ".." resolved by name, repeated slashes folded.
 * A trailing slash is reported apart, since it changes the answer (ENOTDIR,
 * ENOENT).
 *
 * Directories are the host's: the emulator keeps FIFOs only, and asks the
 * host's file system (Node) whether a FIFO's parent directory exists, so
 * that a path inside a real directory (the conformance runner's run
 * directory) works and one inside a missing directory is ENOENT, as on
 * Linux. Where there is no file system (a browser) every directory exists.
 */

import { ERRNO, IpcError } from '../errors.js';

/** PATH_MAX, counting the terminating NUL. */
const PATH_MAX = 4096;
/** NAME_MAX. */
const NAME_MAX = 255;

const encoder = new TextEncoder();

export interface CanonicalPath {
  text: string;
  bytes: Uint8Array;
  /** The path ended in '/' (and is not "/"). */
  slash: boolean;
}

/** What the host's file system says of a directory path: 'dir' (with its mode), 'missing', 'notdir'. */
export type DirectoryProbe = (path: string) => { kind: 'dir'; mode: number } | { kind: 'missing' | 'notdir' };

/** The host's directories (Node's fs), or every directory exists. */
export async function hostDirectories(): Promise<DirectoryProbe> {
  const node = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
  if (!node) return () => ({ kind: 'dir', mode: 0o777 });
  const { statSync } = await import('node:fs');
  return (path) => {
    try {
      const st = statSync(path);
      return st.isDirectory() ? { kind: 'dir', mode: st.mode & 0o7777 } : { kind: 'notdir' };
    } catch (error) {
      return (error as { code?: string }).code === 'ENOTDIR' ? { kind: 'notdir' } : { kind: 'missing' };
    }
  };
}

/** The core's `how` for a path: 1 trailing slash, 2 parent missing, 4 parent no directory. */
export function pathHow(p: CanonicalPath, probe: DirectoryProbe): number {
  let how = p.slash ? 1 : 0;
  const cut = p.text.lastIndexOf('/');
  const parent = cut <= 0 ? '/' : p.text.slice(0, cut);
  if (parent !== '/') {
    const kind = probe(parent).kind;
    if (kind === 'missing') how |= 2;
    else if (kind === 'notdir') how |= 4;
  }
  return how;
}

/** The canonical form of `path`; TypeError for a non-string or an embedded NUL; ENOENT (empty), ENAMETOOLONG. */
export function canonicalPath(path: unknown, syscall: string): CanonicalPath {
  if (typeof path !== 'string') throw new TypeError(`path must be a string, got ${typeof path}`);
  if (path.includes('\0')) throw new TypeError('path must not contain NUL bytes');
  if (path.length === 0) throw new IpcError(ERRNO.ENOENT, syscall);
  const raw = encoder.encode(path);
  if (raw.length >= PATH_MAX) throw new IpcError(ERRNO.ENAMETOOLONG, syscall);
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (encoder.encode(part).length > NAME_MAX) throw new IpcError(ERRNO.ENAMETOOLONG, syscall);
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  const canonical = `/${parts.join('/')}`;
  return { text: canonical, bytes: encoder.encode(canonical), slash: canonical !== '/' && /\/\.?$/.test(path) };
}

/** sizeof(sockaddr_un.sun_path): a name may fill it without a terminating NUL. */
const SUN_PATH_MAX = 108;

/** The `how` bits of a socket name that is no path (the core's sock/listen.ts). */
export const ABSTRACT_NAME = 8;
export const AUTOBIND = 16;
/** sendto: a name was given (with no bytes: an empty one). */
export const NAME_GIVEN = 32;

/** A socket name for bind/connect: a path (canonical, and as given), an abstract name's bytes, or none (autobind). */
export type SocketName =
  | { kind: 'path'; path: CanonicalPath; given: Uint8Array }
  | { kind: 'abstract'; bytes: Uint8Array }
  | { kind: 'none' };

/**
 * A socket's name for bind/connect: the kernel takes the bytes given
 * (unix_validate_addr: more than sun_path holds is EINVAL). A leading NUL
 * makes an abstract name, every byte of it significant; an empty name is
 * bind's autobind and connect's EINVAL; a path is resolved as any path, and
 * a NUL within it is a TypeError.
 */
export function socketName(path: unknown, syscall: 'bind' | 'connect' | 'sendto'): SocketName {
  if (typeof path !== 'string') throw new TypeError(`path must be a string, got ${typeof path}`);
  if (path.length === 0) {
    if (syscall === 'connect') throw new IpcError(ERRNO.EINVAL, syscall);
    return { kind: 'none' }; // bind autobinds; sendto's core answers by socket type
  }
  const given = encoder.encode(path);
  if (given.length > SUN_PATH_MAX) throw new IpcError(ERRNO.EINVAL, syscall);
  if (path.charCodeAt(0) === 0) return { kind: 'abstract', bytes: given };
  return { kind: 'path', path: canonicalPath(path, syscall === 'sendto' ? 'connect' : syscall), given };
}
