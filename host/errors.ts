/**
 * One error type for every backend, shaped like Node's SystemError:
 * `code` is Linux's errno name, `errno` its number on Linux x86_64,
 * `syscall` the call that failed. Tests assert `code`, never the message.
 */

/** Linux x86_64 errno numbers (asm-generic/errno-base.h, errno.h). libuv cannot name ENOMSG or EIDRM. */
export const ERRNO = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, ENXIO: 6, E2BIG: 7, ENOEXEC: 8,
  EBADF: 9, ECHILD: 10, EAGAIN: 11, ENOMEM: 12, EACCES: 13, EFAULT: 14, EBUSY: 16,
  EEXIST: 17, EXDEV: 18, ENODEV: 19, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, ENFILE: 23,
  EMFILE: 24, ENOTTY: 25, EFBIG: 27, ENOSPC: 28, ESPIPE: 29, EROFS: 30, EMLINK: 31,
  EPIPE: 32, EDOM: 33, ERANGE: 34, EDEADLK: 35, ENAMETOOLONG: 36, ENOSYS: 38,
  ENOTEMPTY: 39, ELOOP: 40, ENOMSG: 42, EIDRM: 43, EOVERFLOW: 75, ENOTSOCK: 88,
  EDESTADDRREQ: 89, EMSGSIZE: 90, EPROTOTYPE: 91, ENOPROTOOPT: 92, EPROTONOSUPPORT: 93, ESOCKTNOSUPPORT: 94,
  EOPNOTSUPP: 95, EAFNOSUPPORT: 97,
  EADDRINUSE: 98, ECONNRESET: 104, EISCONN: 106, ENOTCONN: 107, ETIMEDOUT: 110,
  ECONNREFUSED: 111,
} as const;

export type ErrnoCode = keyof typeof ERRNO;

const NAMES: Record<number, ErrnoCode> = {};
for (const [name, no] of Object.entries(ERRNO)) NAMES[no] = name as ErrnoCode;

/** Aliases Linux gives the same number. */
const ALIASES: Record<string, ErrnoCode> = { EWOULDBLOCK: 'EAGAIN', EDEADLOCK: 'EDEADLK', ENOTSUP: 'EOPNOTSUPP' };

const MESSAGES: Partial<Record<ErrnoCode, string>> = {
  EPERM: 'operation not permitted', ENOENT: 'no such file or directory', EINTR: 'interrupted system call',
  ENXIO: 'no such device or address', E2BIG: 'argument list too long', EBADF: 'bad file descriptor',
  EAGAIN: 'resource temporarily unavailable', ENOMEM: 'cannot allocate memory', EACCES: 'permission denied',
  EFAULT: 'bad address', EBUSY: 'device or resource busy', EEXIST: 'file exists', EINVAL: 'invalid argument',
  EMFILE: 'too many open files', EFBIG: 'file too large', ENOSPC: 'no space left on device', EPIPE: 'broken pipe',
  ERANGE: 'numerical result out of range', ENOSYS: 'function not implemented', ENOMSG: 'no message of desired type',
  EIDRM: 'identifier removed', ETIMEDOUT: 'connection timed out', ECONNREFUSED: 'connection refused',
  ENOTCONN: 'transport endpoint is not connected', EMSGSIZE: 'message too long',
};

/** The errno number for a name (aliases such as EWOULDBLOCK included), or undefined. */
export function errnoOf(name: string): number | undefined {
  const canonical = ALIASES[name] ?? name;
  return (ERRNO as Record<string, number>)[canonical];
}

/** The canonical name for an errno number, or `E<number>` for one the table lacks. */
export function errnoName(errno: number): string {
  return NAMES[errno] ?? `E${errno}`;
}

export class IpcError extends Error {
  override readonly name = 'IpcError';
  /** Linux's name: 'ENOMSG', 'EIDRM', ... */
  readonly code: string;
  /** Linux's number (positive). */
  readonly errno: number;
  /** The call that failed: 'msgrcv', 'semop', ... */
  readonly syscall: string;

  constructor(errno: number, syscall: string, options?: { cause?: unknown }) {
    const code = errnoName(errno);
    const text = MESSAGES[code as ErrnoCode];
    super(`${syscall}: ${code}${text ? ` (${text})` : ''}`, options);
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
  }
}

/** Throws the IpcError for `-errno` results; passes non-negative results through. */
export function check(result: number, syscall: string): number {
  if (result < 0) throw new IpcError(-result, syscall);
  return result;
}
