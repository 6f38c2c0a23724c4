/**
 * Linux's values (x86_64, glibc) for every flag, command and limit the
 * interface takes. Names are Linux's so that code reads like C.
 */

export const IPC_PRIVATE = 0;
export const IPC_CREAT = 0o1000;
export const IPC_EXCL = 0o2000;
export const IPC_NOWAIT = 0o4000;

export const IPC_RMID = 0;
export const IPC_SET = 1;
export const IPC_STAT = 2;
export const IPC_INFO = 3;

export const MSG_NOERROR = 0o10000;
export const MSG_EXCEPT = 0o20000;
export const MSG_COPY = 0o40000;
export const MSG_STAT = 11;
export const MSG_INFO = 12;
export const MSG_STAT_ANY = 13;

export const SEM_UNDO = 0x1000;
export const GETPID = 11;
export const GETVAL = 12;
export const GETALL = 13;
export const GETNCNT = 14;
export const GETZCNT = 15;
export const SETVAL = 16;
export const SETALL = 17;
export const SEM_STAT = 18;
export const SEM_INFO = 19;
export const SEM_STAT_ANY = 20;

export const SHM_RDONLY = 0o10000;
export const SHM_RND = 0o20000;
export const SHM_REMAP = 0o40000;
export const SHM_EXEC = 0o100000;
export const SHM_LOCK = 11;
export const SHM_UNLOCK = 12;
export const SHM_STAT = 13;
export const SHM_INFO = 14;
export const SHM_STAT_ANY = 15;
export const SHM_DEST = 0o1000;
export const SHM_LOCKED = 0o2000;

export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DIRECT = 0o40000;
export const O_DSYNC = 0o10000;
export const O_SYNC = 0o4010000;
export const O_LARGEFILE = 0o100000;
export const O_CLOEXEC = 0o2000000;

export const F_DUPFD = 0;
export const F_GETFD = 1;
/** F_GETFD / F_SETFD: the descriptor is closed by execve. */
export const FD_CLOEXEC = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_DUPFD_CLOEXEC = 1030;
export const F_SETPIPE_SZ = 1031;
export const F_GETPIPE_SZ = 1032;
export const FIONREAD = 0x541b;

export const POLLIN = 0x1;
export const POLLPRI = 0x2;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;
export const POLLRDNORM = 0x40;
export const POLLWRNORM = 0x100;

export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_SEQPACKET = 5;
/** socketpair type flags: the same bits as O_NONBLOCK / O_CLOEXEC. */
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const MSG_PEEK = 0x2;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const MSG_WAITALL = 0x100;
export const MSG_NOSIGNAL = 0x4000;
export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_TYPE = 3;
export const SO_ERROR = 4;
export const SO_ACCEPTCONN = 30;
export const SO_PROTOCOL = 38;
export const SO_DOMAIN = 39;

export const SIGEV_SIGNAL = 0;
export const SIGEV_NONE = 1;
export const SIGEV_THREAD = 2;

/** Capability numbers (linux/capability.h) that IPC checks consult. */
export const CAP_SETGID = 6;
export const CAP_SETUID = 7;
export const CAP_IPC_LOCK = 14;
export const CAP_IPC_OWNER = 15;
export const CAP_SYS_ADMIN = 21;
export const CAP_SYS_RESOURCE = 24;

/** Linux's defaults for the IPC sysctls; an emulated kernel starts with these. */
export const DEFAULT_LIMITS = {
  /** kernel.msgmax: the largest message, in bytes. */
  msgmax: 8192,
  /** kernel.msgmnb: a new queue's msg_qbytes. */
  msgmnb: 16384,
  /** kernel.msgmni: how many queues may exist. */
  msgmni: 32000,
  /** kernel.sem: SEMMSL, SEMMNS, SEMOPM, SEMMNI. */
  semmsl: 32000,
  semmns: 1024000000,
  semopm: 500,
  semmni: 32000,
  /** kernel.shmmni: how many segments may exist. */
  shmmni: 4096,
} as const;

/**
 * The names a flags string may use ("IPC_CREAT|IPC_EXCL|0600"): every
 * constant above that is a flag or command, by its Linux name.
 */
export const FLAG_NAMES: Readonly<Record<string, number>> = {
  IPC_PRIVATE, IPC_CREAT, IPC_EXCL, IPC_NOWAIT, IPC_RMID, IPC_SET, IPC_STAT, IPC_INFO,
  MSG_NOERROR, MSG_EXCEPT, MSG_COPY, MSG_STAT, MSG_INFO, MSG_STAT_ANY,
  SEM_UNDO, GETPID, GETVAL, GETALL, GETNCNT, GETZCNT, SETVAL, SETALL, SEM_STAT, SEM_INFO, SEM_STAT_ANY,
  SHM_RDONLY, SHM_RND, SHM_REMAP, SHM_EXEC, SHM_LOCK, SHM_UNLOCK, SHM_STAT, SHM_INFO, SHM_STAT_ANY,
  SHM_DEST, SHM_LOCKED,
  O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_NONBLOCK, O_DIRECT, O_DSYNC, O_SYNC, O_LARGEFILE, O_CLOEXEC,
  F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_SETPIPE_SZ, F_GETPIPE_SZ, FIONREAD,
  POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP, POLLNVAL, POLLRDNORM, POLLWRNORM,
  AF_UNIX, SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_NONBLOCK, SOCK_CLOEXEC, SOL_SOCKET,
  MSG_PEEK, MSG_TRUNC, MSG_DONTWAIT, MSG_WAITALL, MSG_NOSIGNAL, SHUT_RD, SHUT_WR, SHUT_RDWR,
  SO_SNDBUF, SO_RCVBUF, SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD,
};
