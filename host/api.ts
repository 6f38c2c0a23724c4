/**
 * The Process contract: one object per process, syscall-shaped, the same on
 * every backend. The emulator (`openEmulator`) gives simulated processes over a
 * wasm kernel model; the native backend (`openNative`) gives this process over
 * the real kernel. Arguments follow the C prototypes without buffers and
 * pointers; flags are Linux's values (see constants.ts).
 *
 * Errors: every failure the kernel would report is an {@link IpcError} whose
 * `code` is Linux's errno name and `syscall` the call. Arguments of the wrong
 * JavaScript type (a string for an id, a float, NaN) are a TypeError; values
 * the kernel cannot even be given (an id beyond 32 bits, a size beyond
 * 2^53) are a RangeError. Anything the kernel would answer with an errno is
 * left to the kernel (native) or its model (emu), so both answer alike.
 *
 * Blocking: a call that may sleep in the kernel returns a Promise and takes
 * {@link CallOptions}. With IPC_NOWAIT it fails at once instead (EAGAIN for
 * msgsnd, ENOMSG for msgrcv). Each such call also has a `...Sync` form that
 * implies IPC_NOWAIT and returns plainly, for hot loops that must not pay for
 * a promise.
 *
 * Removal: when an object is removed (IPC_RMID) while calls sleep on it,
 * each of them fails with EIDRM; any later call naming the removed id fails
 * with EINVAL, as on Linux.
 */

import type {
  GETALL, GETNCNT, GETPID, GETVAL, GETZCNT, IPC_INFO, IPC_RMID, IPC_SET, IPC_STAT, MSG_INFO, MSG_STAT,
  MSG_STAT_ANY, SEM_INFO, SEM_STAT, SEM_STAT_ANY, SETALL, SETVAL,
} from './constants.js';

/**
 * A message type (C `long`, 64 bits). Results are numbers while they are safe
 * integers and bigints beyond 2^53; arguments may be either.
 */
export type MType = number | bigint;

/** Options of every call that may block. */
export interface CallOptions {
  /**
   * Aborting interrupts the sleeping call as a signal whose handler runs
   * would: SysV calls then fail with EINTR (Linux never restarts them), the
   * IpcError carrying `signal.reason` as its `cause`. A signal already
   * aborted fails the call with EINTR only if it would sleep.
   */
  signal?: AbortSignal;
  /**
   * Milliseconds the call may sleep; then it fails with EAGAIN, as
   * semtimedop does in the kernel. A call that needs no sleep ignores it.
   */
  timeout?: number;
  /**
   * Whether the pending call keeps the Node process alive, as a pending socket
   * read does (default true). Pass false for background waits: the process may
   * then exit while they sleep; at exit they are taken out of the kernel first,
   * so none takes a message that would be lost with the process. Emulator
   * calls never hold the process (only another call of the program can
   * complete them); a `timeout` there holds it until it fires.
   */
  ref?: boolean;
}

/** `struct ipc_perm` as IPC_STAT reports it. */
export interface IpcPerm {
  /** The key given at creation; 0 for IPC_PRIVATE. */
  key: number;
  uid: number;
  gid: number;
  cuid: number;
  cgid: number;
  /** Permission bits, plus SHM_DEST / SHM_LOCKED for segments. */
  mode: number;
}

/** `struct msqid_ds` (msgctl IPC_STAT, MSG_STAT, MSG_STAT_ANY). Times are wall-clock seconds, 0 for never. */
export interface MsqidDs {
  msg_perm: IpcPerm;
  msg_stime: number;
  msg_rtime: number;
  msg_ctime: number;
  /** Bytes of all queued messages. */
  msg_cbytes: number;
  /** Queued messages. */
  msg_qnum: number;
  /** The queue's capacity in bytes (and in messages). */
  msg_qbytes: number;
  /** Last sender's pid, 0 for none. */
  msg_lspid: number;
  /** Last receiver's pid, 0 for none. */
  msg_lrpid: number;
}

/** `struct msginfo` (msgctl IPC_INFO, MSG_INFO). MSG_INFO puts the queue count in msgpool, the message count in msgmap and the byte count in msgtql. */
export interface MsgInfo {
  msgpool: number;
  msgmap: number;
  msgmax: number;
  msgmnb: number;
  msgmni: number;
  msgssz: number;
  msgtql: number;
  msgseg: number;
}

/** What msgctl IPC_SET may change; fields left out keep their values. */
export interface MsqidSet {
  msg_qbytes?: number;
  uid?: number;
  gid?: number;
  /** Only the low nine bits are taken. */
  mode?: number;
}

/** One semaphore operation, `struct sembuf`: [sem_num, sem_op, sem_flg (IPC_NOWAIT, SEM_UNDO; default 0)]. */
export type SemBuf = readonly [semNum: number, semOp: number, semFlg?: number];

/** A raw `struct timespec`, passed to the kernel as it is (relative for semtimedop). */
export interface Timespec {
  sec: number | bigint;
  nsec: number | bigint;
}

/** `struct semid_ds` (semctl IPC_STAT, SEM_STAT, SEM_STAT_ANY). Times are wall-clock seconds, 0 for never. */
export interface SemidDs {
  sem_perm: IpcPerm;
  sem_otime: number;
  sem_ctime: number;
  sem_nsems: number;
}

/** `struct seminfo` (semctl IPC_INFO, SEM_INFO). SEM_INFO puts the set count in semusz and the semaphore count in semaem. */
export interface SemInfo {
  semmap: number;
  semmni: number;
  semmns: number;
  semmnu: number;
  semmsl: number;
  semopm: number;
  semume: number;
  semusz: number;
  semvmx: number;
  semaem: number;
}

/** What semctl IPC_SET may change; fields left out keep their values. */
export interface SemidSet {
  uid?: number;
  gid?: number;
  /** Only the low nine bits are taken. */
  mode?: number;
}

/** A received message: its type and a fresh copy of its bytes. */
export interface Message {
  mtype: MType;
  data: Uint8Array;
}

/** What {@link Process.msgrcvInto} wrote into the caller's buffer. */
export interface Received {
  mtype: MType;
  /** Bytes written (after MSG_NOERROR truncation). */
  length: number;
}

/** The result of a `*_STAT` / `*_INFO` command: `result` is what the syscall returned. */
export type WithResult<T> = T & { result: number };

/** What {@link Process.stat} reports of a path. */
export interface Stat {
  type: 'fifo' | 'socket' | 'file' | 'dir' | 'other';
  /** The permission bits (mode & 0o7777). */
  mode: number;
}

/**
 * What {@link Process.recv} returns: the bytes copied, and `length`, the
 * call's return value (with MSG_TRUNC on a datagram or seqpacket socket the
 * message's real size, else the bytes copied).
 */
export interface Datagram {
  data: Uint8Array;
  length: number;
}

/** One descriptor of a {@link Process.poll} over several: `fd` (negative: ignored) and the events asked. */
export interface PollFd {
  fd: number;
  events: number;
}

/** What {@link Process.recvfrom} returns: a {@link Datagram} and its sender's name ('' when it has none). */
export interface DatagramFrom extends Datagram {
  from: string;
}

/** Which kernel a process runs on. */
export type BackendName = 'emu' | 'native';

export interface Process {
  readonly backend: BackendName;
  /** The process id (a simulated pid on the emulator). */
  readonly pid: number;

  /**
   * Gets or creates a message queue. Never blocks.
   * @param key IPC_PRIVATE (always a new queue) or a key.
   * @param msgflg IPC_CREAT, IPC_EXCL and the low nine permission bits.
   * @returns the queue id.
   * @throws ENOENT (no queue, no IPC_CREAT), EEXIST (IPC_CREAT|IPC_EXCL on an
   * existing key), EACCES (the mode bits asked for are not granted), ENOSPC
   * (msgmni queues exist).
   */
  msgget(key: number, msgflg?: number): number;

  /**
   * Sends a message of type `mtype` (≥ 1) with `data` as its text. Blocks
   * while the queue is full (its bytes would pass msg_qbytes, or its message
   * count would), unless IPC_NOWAIT. A receiver already sleeping for a
   * matching type gets the message directly.
   * @throws EINVAL (bad id, mtype < 1, data longer than msgmax), EACCES (no
   * write permission), EAGAIN (full with IPC_NOWAIT, or `timeout` passed),
   * EIDRM (removed while sleeping), EINTR (aborted while sleeping).
   */
  msgsnd(msqid: number, mtype: MType, data: Uint8Array, msgflg?: number, opts?: CallOptions): Promise<void>;

  /** msgsnd that never blocks (IPC_NOWAIT implied). Same errors, thrown. */
  msgsndSync(msqid: number, mtype: MType, data: Uint8Array, msgflg?: number): void;

  /**
   * Receives a message: `msgtyp` 0 takes the oldest; > 0 the oldest of that
   * type (with MSG_EXCEPT: of any other type); < 0 the oldest of the lowest
   * type ≤ |msgtyp|. Blocks until one is there, unless IPC_NOWAIT. With
   * MSG_COPY (and IPC_NOWAIT) `msgtyp` is an index and the message stays.
   * @param msgsz the largest text accepted; longer messages give E2BIG and
   * stay queued, unless MSG_NOERROR (then they are cut and removed whole).
   * @throws EINVAL (bad id, msgsz < 0, MSG_COPY without IPC_NOWAIT or with
   * MSG_EXCEPT), EACCES (no read permission), E2BIG, ENOMSG (nothing matches
   * with IPC_NOWAIT), EIDRM (removed while sleeping), EINTR (aborted),
   * EAGAIN (`timeout` passed), ENOSYS (MSG_COPY where the kernel lacks it).
   */
  msgrcv(msqid: number, msgsz: number, msgtyp: MType, msgflg?: number, opts?: CallOptions): Promise<Message>;

  /** msgrcv that never blocks (IPC_NOWAIT implied). Same errors, thrown. */
  msgrcvSync(msqid: number, msgsz: number, msgtyp: MType, msgflg?: number): Message;

  /**
   * msgrcv that never blocks and writes the text into `buf` (msgsz is
   * `buf.length`): no allocation for the bytes. Bytes of `buf` past the
   * returned length are left untouched.
   */
  msgrcvInto(msqid: number, buf: Uint8Array, msgtyp: MType, msgflg?: number): Received;

  /**
   * Controls a queue. Never blocks.
   * - IPC_STAT (read permission): the queue's state.
   * - IPC_SET (owner, creator or CAP_SYS_ADMIN): changes uid, gid, the mode's
   *   low nine bits and msg_qbytes (above msgmnb needs CAP_SYS_RESOURCE: else
   *   EPERM); wakes sleepers so they check again.
   * - IPC_RMID (same rights): removes the queue; sleepers fail with EIDRM.
   * - IPC_INFO / MSG_INFO: limits and usage; `result` is the highest index in use.
   * - MSG_STAT / MSG_STAT_ANY: `msqid` is an index (Linux keeps only its index
   *   bits); `result` is the full id. MSG_STAT_ANY skips the read check.
   * @throws EINVAL (bad id or command), EACCES, EPERM.
   */
  msgctl(msqid: number, cmd: typeof IPC_STAT): MsqidDs;
  msgctl(msqid: number, cmd: typeof MSG_STAT | typeof MSG_STAT_ANY): WithResult<MsqidDs>;
  msgctl(msqid: number, cmd: typeof IPC_INFO | typeof MSG_INFO): WithResult<MsgInfo>;
  msgctl(msqid: number, cmd: typeof IPC_SET, buf: MsqidSet): 0;
  msgctl(msqid: number, cmd: typeof IPC_RMID): 0;
  msgctl(msqid: number, cmd: number, buf?: MsqidSet): number | MsqidDs | WithResult<MsqidDs> | WithResult<MsgInfo>;

  /**
   * Gets or creates a semaphore set of `nsems` semaphores (all 0). Never blocks.
   * @throws EINVAL (nsems < 0 or > semmsl, checked first; nsems 0 when
   * creating; an existing set smaller than nsems), ENOENT, EEXIST, EACCES,
   * ENOSPC (semmni sets, or semmns semaphores in all).
   */
  semget(key: number, nsems: number, semflg?: number): number;

  /**
   * Applies the operations atomically and in array order, or none of them:
   * sem_op > 0 adds; < 0 waits until the value is at least |sem_op| and
   * takes it; 0 waits until the value is 0. Sleeps on the first operation
   * that cannot proceed unless that operation has IPC_NOWAIT (then EAGAIN).
   * Sleepers are served in arrival order by the operation that makes them
   * possible, which applies them for them. SEM_UNDO records the opposite
   * adjustment, applied when the process exits.
   * @throws E2BIG (more than semopm operations), EINVAL (no operations, bad
   * id), EFBIG (sem_num ≥ nsems), EACCES (alter permission for any sem_op
   * ≠ 0, read otherwise), ERANGE (a value or an undo adjustment beyond
   * semvmx), EAGAIN, EIDRM (removed while sleeping), EINTR (aborted).
   */
  semop(semid: number, sops: readonly SemBuf[], opts?: CallOptions): Promise<void>;

  /** semop that never blocks: an operation that would sleep fails with EAGAIN, as if it had IPC_NOWAIT. */
  semopSync(semid: number, sops: readonly SemBuf[]): void;

  /**
   * semop with a timeout: a number of milliseconds, a raw relative
   * timespec (checked as the kernel checks it: EINVAL for a negative sec or
   * nsec outside [0, 1e9), even when the call need not sleep), or null for
   * none. Expiry fails the call with EAGAIN.
   */
  semtimedop(semid: number, sops: readonly SemBuf[], timeout: number | Timespec | null, opts?: CallOptions): Promise<void>;

  /**
   * Controls a set. Never blocks.
   * - GETVAL / GETPID / GETNCNT / GETZCNT (read permission): of semaphore
   *   `semnum`; GETNCNT and GETZCNT count only sleepers blocked on that one.
   * - SETVAL (alter permission) / SETALL: set values (ERANGE above semvmx or
   *   below 0), clear the matching SEM_UNDO adjustments of every process,
   *   and wake sleepers that can now proceed.
   * - GETALL: every value.
   * - IPC_STAT, IPC_SET, IPC_RMID, IPC_INFO, SEM_INFO, SEM_STAT,
   *   SEM_STAT_ANY: as for msgctl.
   * @throws EINVAL (bad id or command, semnum out of range), EACCES, EPERM, ERANGE.
   */
  semctl(semid: number, semnum: number, cmd: typeof GETVAL | typeof GETPID | typeof GETNCNT | typeof GETZCNT): number;
  semctl(semid: number, semnum: number, cmd: typeof SETVAL, value: number): 0;
  semctl(semid: number, semnum: number, cmd: typeof GETALL): number[];
  semctl(semid: number, semnum: number, cmd: typeof SETALL, values: readonly number[]): 0;
  semctl(semid: number, semnum: number, cmd: typeof IPC_STAT): SemidDs;
  semctl(semid: number, semnum: number, cmd: typeof SEM_STAT | typeof SEM_STAT_ANY): WithResult<SemidDs>;
  semctl(semid: number, semnum: number, cmd: typeof IPC_INFO | typeof SEM_INFO): WithResult<SemInfo>;
  semctl(semid: number, semnum: number, cmd: typeof IPC_SET, buf: SemidSet): 0;
  semctl(semid: number, semnum: number, cmd: typeof IPC_RMID): 0;
  semctl(semid: number, semnum: number, cmd: number, arg?: number | readonly number[] | SemidSet):
    number | number[] | SemidDs | WithResult<SemidDs> | WithResult<SemInfo>;

  // ---- Descriptors: pipes, FIFOs, Unix sockets --------------------------------
  //
  // Descriptors are small integers in the process's own table (real fds on
  // native). Reads and writes of pipes, FIFOs and sockets may block and return
  // promises; aborting them acts as a signal whose handler runs: a call that has
  // moved nothing fails with EINTR, one that has moved bytes returns their count.
  // If `signal.reason` is an object with `restart: true` (e.g.
  // `controller.abort({ restart: true })`) the handler counts as installed with
  // SA_RESTART: a read, write, send, recv or FIFO open that has moved nothing
  // carries on sleeping, as Linux restarts it (poll still fails with EINTR).
  // Such a reason may carry `signal`, a fresh AbortSignal that interrupts the
  // restarted call from then on (`{ restart: true, signal }`); without it the
  // restarted call can no longer be aborted.
  // A write with no reader fails with EPIPE (SIGPIPE is treated as ignored).

  /**
   * pipe2: a new pipe, `[readFd, writeFd]`. Never blocks.
   * @param flags O_NONBLOCK, O_CLOEXEC, O_DIRECT (others: EINVAL).
   * @throws EINVAL, EMFILE (descriptor table full).
   */
  pipe(flags?: number): [number, number];

  /** Makes a FIFO at `path` with `mode` (less the umask, 022). @throws EEXIST, ENOENT, EACCES. */
  mkfifo(path: string, mode?: number): void;

  /**
   * Opens `path` (a FIFO, or a file where the backend has files). A FIFO opened
   * O_RDONLY blocks until a writer opens it, O_WRONLY until a reader does;
   * O_RDWR never blocks. With O_NONBLOCK a read-only open succeeds at once and
   * a write-only one with no reader fails with ENXIO.
   * @throws ENOENT, EACCES, ENXIO, EINTR (aborted while waiting).
   */
  open(path: string, flags: number, mode?: number, opts?: CallOptions): Promise<number>;

  /** Removes the name `path`. Open descriptors stay usable. @throws ENOENT, EACCES. */
  unlink(path: string): void;

  /** stat(2): what `path` is and its permission bits. @throws ENOENT. */
  stat(path: string): Stat;

  /**
   * Reads up to `count` bytes: returns as soon as at least one byte is there,
   * or empty data at end of file (no writer left and nothing buffered).
   * Sleeps on an empty pipe that still has writers, unless O_NONBLOCK (then EAGAIN).
   * @throws EBADF (not open for reading), EINVAL (count < 0), EAGAIN, EINTR.
   */
  read(fd: number, count: number, opts?: CallOptions): Promise<Uint8Array>;

  /** read that never blocks: where it would sleep it fails with EAGAIN. */
  readSync(fd: number, count: number): Uint8Array;

  /** readSync into `buf` (count = `buf.length`): returns the bytes written there; no allocation. */
  readInto(fd: number, buf: Uint8Array): number;

  /**
   * Writes `data`; returns the bytes written. On a pipe, up to PIPE_BUF (4096)
   * bytes go in atomically; a blocking write sleeps until all are written,
   * a non-blocking one writes what fits (above PIPE_BUF) or fails with EAGAIN.
   * @throws EBADF (not open for writing), EPIPE (no reader), EAGAIN, EINTR.
   */
  write(fd: number, data: Uint8Array, opts?: CallOptions): Promise<number>;

  /** write that never blocks: it writes what a non-blocking write would, or fails with EAGAIN. */
  writeSync(fd: number, data: Uint8Array): number;

  /** Closes a descriptor; the last close of an end wakes the other side's sleepers. @throws EBADF. */
  close(fd: number): void;

  /**
   * dup: a new descriptor, the lowest free number, naming the same open file
   * description: the file and its status flags (O_NONBLOCK, ...) are shared,
   * FD_CLOEXEC is not set. @throws EBADF, EMFILE.
   */
  dup(fd: number): number;

  /**
   * dup2: makes `newfd` name `oldfd`'s open file description and answers
   * `newfd`. What `newfd` named before is closed first, with the wake-ups of
   * that close. `oldfd === newfd` answers `newfd` if it is open.
   * @throws EBADF (`oldfd` not open; `newfd` negative or not below RLIMIT_NOFILE),
   * EBUSY (`newfd` is being taken by an open that is still asleep).
   */
  dup2(oldfd: number, newfd: number): number;

  /** dup3: dup2 with `flags` (O_CLOEXEC sets FD_CLOEXEC on `newfd`); `oldfd === newfd` is EINVAL. @throws EINVAL, EBADF, EBUSY. */
  dup3(oldfd: number, newfd: number, flags: number): number;

  /**
   * fcntl: F_GETFL (access mode and status flags), F_SETFL (O_NONBLOCK,
   * O_APPEND, O_DIRECT; shared by every descriptor of the open file
   * description), F_GETPIPE_SZ, F_SETPIPE_SZ (returns the new size), F_GETFD,
   * F_SETFD. @throws EBADF, EINVAL, EBUSY, EPERM.
   */
  fcntl(fd: number, cmd: number, arg?: number): number;

  /** ioctl FIONREAD: the unread bytes (for a datagram socket: the next datagram's size). @throws EBADF, ENOTTY, EINVAL. */
  ioctl(fd: number, request: number): number;

  /**
   * poll(2) on one descriptor: resolves to revents, the asked `events` that
   * hold plus POLLERR / POLLHUP / POLLNVAL. `timeout` in ms: 0 does not wait,
   * a negative one waits for ever. Resolves 0 when the timeout passes.
   * @throws EINTR (aborted while waiting).
   */
  poll(fd: number, events: number, timeout: number, opts?: CallOptions): Promise<number>;

  /**
   * poll(2) on several descriptors: resolves, as soon as any holds an event,
   * to the revents of each (in `fds` order; 0 where none, and for a negative
   * fd); the count poll(2) returns is the number of nonzero entries. A closed
   * descriptor answers POLLNVAL, which counts. Resolves all zeros when the
   * timeout passes. @throws EINVAL (more descriptors than RLIMIT_NOFILE), EINTR.
   */
  poll(fds: readonly PollFd[], timeout: number, opts?: CallOptions): Promise<number[]>;

  /**
   * socketpair: two connected AF_UNIX sockets. `type` is SOCK_STREAM,
   * SOCK_DGRAM or SOCK_SEQPACKET, optionally with SOCK_NONBLOCK | SOCK_CLOEXEC.
   * @throws EAFNOSUPPORT (domain), EINVAL (type), EOPNOTSUPP / EPROTONOSUPPORT, EMFILE.
   */
  socketpair(domain: number, type: number, protocol?: number): [number, number];

  /**
   * send: returns the bytes sent. Flags: MSG_DONTWAIT, MSG_NOSIGNAL (always
   * implied: SIGPIPE is ignored). A datagram send to a receiver that is not
   * connected back sleeps while its queue holds more than max_dgram_qlen (10).
   * @throws EPIPE, ECONNREFUSED, ENOTCONN, EMSGSIZE, EAGAIN, EINTR, EPERM, ENOTSOCK, EBADF.
   */
  send(fd: number, data: Uint8Array, flags?: number, opts?: CallOptions): Promise<number>;

  /**
   * sendto(2): a datagram socket sends to the socket bound at `path` (a path
   * or an abstract name), connected or not; the receiver must take datagrams
   * from it (EPERM when connected to another socket). The name is looked up
   * at each call. A seqpacket socket ignores the name; a stream socket
   * answers EISCONN (connected) or EOPNOTSUPP. @throws as send, and ENOENT,
   * ECONNREFUSED, EPROTOTYPE, EINVAL (an empty name).
   */
  sendto(fd: number, data: Uint8Array, path: string, flags?: number, opts?: CallOptions): Promise<number>;

  /**
   * recv: up to `count` bytes (one message on datagram and seqpacket sockets,
   * the rest of which is dropped unless MSG_PEEK). Flags: MSG_DONTWAIT,
   * MSG_PEEK, MSG_TRUNC, MSG_WAITALL. Empty data at end of stream.
   * @throws EAGAIN, ECONNRESET, EINTR, ENOTSOCK, EBADF, EINVAL.
   */
  recv(fd: number, count: number, flags?: number, opts?: CallOptions): Promise<Datagram>;

  /**
   * recvfrom(2): recv, and the name of the socket that sent what was
   * received ('' when that socket is unnamed, and when nothing was read).
   */
  recvfrom(fd: number, count: number, flags?: number, opts?: CallOptions): Promise<DatagramFrom>;

  /** shutdown: SHUT_RD, SHUT_WR or SHUT_RDWR. @throws EBADF, ENOTSOCK, EINVAL, ENOTCONN. */
  shutdown(fd: number, how: number): void;

  /** setsockopt at SOL_SOCKET: SO_SNDBUF / SO_RCVBUF (Linux stores twice the value). @throws ENOPROTOOPT, EBADF, ENOTSOCK. */
  setsockopt(fd: number, optname: number, value: number): void;

  /**
   * getsockopt at SOL_SOCKET: SO_SNDBUF / SO_RCVBUF, and SO_TYPE, SO_DOMAIN,
   * SO_PROTOCOL (0), SO_ACCEPTCONN (1 when listening) and SO_ERROR (the
   * pending error as an errno number, then cleared: a recv no longer sees it).
   * @throws ENOPROTOOPT (other options), EBADF, ENOTSOCK.
   */
  getsockopt(fd: number, optname: number): number;

  // ---- Named AF_UNIX stream sockets -------------------------------------------

  /**
   * socket(2): a new, unconnected AF_UNIX socket. `type` is SOCK_STREAM or
   * SOCK_SEQPACKET (SOCK_DGRAM sockets can be made but not named here: no
   * sendto), optionally with SOCK_NONBLOCK | SOCK_CLOEXEC.
   * @throws EAFNOSUPPORT, EINVAL, ESOCKTNOSUPPORT, EPROTONOSUPPORT, EMFILE.
   */
  socket(domain: number, type: number, protocol?: number): number;

  /**
   * bind(2) to a path, which becomes a socket file (stat: 'socket', mode
   * 0777 less the umask). Unlink it to remove the name.
   * @throws EADDRINUSE (the path exists), EINVAL (already bound), ENOENT, EACCES, ENOTSOCK, EBADF.
   */
  bind(fd: number, path: string): void;

  /**
   * getsockname(2): the socket's name as `bind` was given it (not made
   * absolute), '' when unnamed. A connection `accept` returns carries its
   * listener's name. The name stays after its file is unlinked.
   * @throws ENOTSOCK, EBADF.
   */
  getsockname(fd: number): string;

  /**
   * getpeername(2): the name of the socket's peer ('' when the peer is
   * unnamed, as a socketpair's ends and most clients are), also after the
   * peer has closed. @throws ENOTCONN (no peer), ENOTSOCK, EBADF.
   */
  getpeername(fd: number): string;

  /** listen(2): queue up to `backlog` connections not yet accepted (capped at somaxconn, 4096). @throws EINVAL (not bound, or connected), EOPNOTSUPP (SOCK_DGRAM), ENOTSOCK. */
  listen(fd: number, backlog: number): void;

  /**
   * connect(2) to the socket listening at `path`. Sleeps while the
   * listener's queue is full, unless O_NONBLOCK (then EAGAIN). A datagram
   * socket instead makes the socket bound at `path` its peer, at once: its
   * sends go there, and one connected before leaves its old peer, dropping
   * what it had received.
   * @throws ECONNREFUSED (nobody listens there), ENOENT, EISCONN, EPROTOTYPE, EAGAIN, EINTR,
   * EPERM (a datagram receiver connected to another socket).
   */
  connect(fd: number, path: string, opts?: CallOptions): Promise<void>;

  /**
   * accept4(2): the descriptor of the next queued connection. Sleeps until
   * one comes, unless O_NONBLOCK (EAGAIN). `flags`: SOCK_NONBLOCK, SOCK_CLOEXEC.
   * @throws EINVAL (not listening), EAGAIN, EINTR, ENOTSOCK, EBADF.
   */
  accept(fd: number, flags?: number, opts?: CallOptions): Promise<number>;
}

/** Credentials of a simulated process. */
export interface SpawnOptions {
  /** Effective (and real) uid; default 0. */
  uid?: number;
  /** Effective gid; default: the uid. */
  gid?: number;
  /** Supplementary groups; default none. */
  groups?: number[];
  /**
   * Effective capabilities as a CapEff mask (bit n = capability n). Default:
   * all of them for uid 0, none otherwise.
   */
  caps?: bigint;
}

/** The emulator's sysctls; `openEmulator({ limits })` and `kernel.setLimits()` change them. */
export interface Limits {
  msgmax: number;
  msgmnb: number;
  msgmni: number;
  /** kernel.sem, first field: semaphores per set (SEMMSL). */
  semmsl: number;
  /** kernel.sem, second field: semaphores in all sets together (SEMMNS). */
  semmns: number;
  /** kernel.sem, third field: operations per semop call (SEMOPM). */
  semopm: number;
  /** kernel.sem, fourth field: sets (SEMMNI), at most 32768. SEMVMX (32767) and SEMAEM (32767) are fixed. */
  semmni: number;
  /** fs.pipe-max-size: the most F_SETPIPE_SZ gives without CAP_SYS_RESOURCE (bytes; stored rounded up to a power-of-two number of pages). */
  pipe_max_size: number;
  /** fs.pipe-user-pages-soft: pages of pipes a user may hold before new pipes get 2 slots (0: no limit). */
  pipe_user_pages_soft: number;
  /** fs.pipe-user-pages-hard: pages of pipes a user may hold at all (0: no limit). */
  pipe_user_pages_hard: number;
}

/** A process of the emulator: a Process that can also fork and exit. */
export interface SimProcess extends Process {
  readonly backend: 'emu';
  readonly uid: number;
  readonly gid: number;
  /**
   * Ends the process as exit_group would: its sleeping calls are abandoned
   * (their promises never settle), and every kind's exit clean-up runs.
   * Later calls on this process throw ESRCH.
   */
  exit(): Promise<void>;
  /**
   * How many SIGPIPEs Linux would have sent this process: for each write to a
   * pipe or FIFO that found no reader (also one that returned a partial
   * count because the last reader left), and for write(2) on a stream socket
   * whose peer is gone (send implies MSG_NOSIGNAL). Never delivered: SIGPIPE
   * is ignored here, as by Node and by the conformance actors; the writer
   * sees EPIPE. A forked child starts at 0. Throws ESRCH after exit().
   */
  readonly sigpipes: number;
  /** A child with the same credentials and a copy of the descriptor table (shared open file descriptions, as fork(2) shares them); no SEM_UNDO adjustments. */
  fork(): SimProcess;
}

/** An emulated kernel: one wasm instance, its own objects, limits and processes. */
export interface Emulator {
  readonly backend: 'emu';
  /** A new simulated process. */
  spawn(opts?: SpawnOptions): SimProcess;
  /** The current sysctls. */
  readonly limits: Readonly<Limits>;
  /** Changes sysctls, as writing /proc/sys/kernel/* would. */
  setLimits(limits: Partial<Limits>): void;
}
