/**
 * The calling process on the real kernel: the Process of api.ts, each call
 * made by the addon for this very process (its pid, its credentials).
 */

import type {
  CallOptions, Datagram, DatagramFrom, Message, MsqidSet, MType, PollFd, Process, Received, SemBuf, SemidSet, Stat, Timespec,
} from '../api.js';
import type { FdCalls } from './fd.js';
import type { MsgCalls } from './msg.js';
import type { SemCalls } from './sem.js';
import type { SockCalls } from './sock.js';

/** The calls of one addon instance, by kind. */
export interface NativeCalls {
  readonly msg: MsgCalls;
  readonly sem: SemCalls;
  readonly fd: FdCalls;
  readonly sock: SockCalls;
}

export class NativeProcess implements Process {
  readonly backend = 'native' as const;
  readonly pid = process.pid;

  protected readonly msg: MsgCalls;
  protected readonly sem: SemCalls;
  protected readonly fd: FdCalls;
  protected readonly sock: SockCalls;

  constructor(calls: NativeCalls) {
    this.msg = calls.msg;
    this.sem = calls.sem;
    this.fd = calls.fd;
    this.sock = calls.sock;
  }

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

  semget(key: number, nsems: number, semflg?: number): number {
    return this.sem.semget(key, nsems, semflg);
  }

  semop(semid: number, sops: readonly SemBuf[], opts?: CallOptions): Promise<void> {
    return this.sem.semop(semid, sops, opts);
  }

  semopSync(semid: number, sops: readonly SemBuf[]): void {
    this.sem.semopSync(semid, sops);
  }

  semtimedop(semid: number, sops: readonly SemBuf[], timeout: number | Timespec | null, opts?: CallOptions): Promise<void> {
    return this.sem.semtimedop(semid, sops, timeout, opts);
  }

  // As msgctl: SemCalls answers the shape the overloads give each command.
  semctl = ((semid: number, semnum: number, cmd: number, arg?: number | readonly number[] | SemidSet) =>
    this.sem.semctl(semid, semnum, cmd, arg)) as Process['semctl'];

  // ---- Descriptors: real fds of this process (fd.ts, sock.ts) ----

  pipe(flags?: number): [number, number] {
    return this.fd.pipe(flags);
  }

  mkfifo(path: string, mode?: number): void {
    this.fd.mkfifo(path, mode);
  }

  open(path: string, flags: number, mode?: number, opts?: CallOptions): Promise<number> {
    return this.fd.open(path, flags, mode, opts);
  }

  unlink(path: string): void {
    this.fd.unlink(path);
  }

  stat(path: string): Stat {
    return this.fd.stat(path);
  }

  read(fd: number, count: number, opts?: CallOptions): Promise<Uint8Array> {
    return this.fd.read(fd, count, opts);
  }

  readSync(fd: number, count: number): Uint8Array {
    return this.fd.readSync(fd, count);
  }

  readInto(fd: number, buf: Uint8Array): number {
    return this.fd.readInto(fd, buf);
  }

  write(fd: number, data: Uint8Array, opts?: CallOptions): Promise<number> {
    return this.fd.write(fd, data, opts);
  }

  writeSync(fd: number, data: Uint8Array): number {
    return this.fd.writeSync(fd, data);
  }

  close(fd: number): void {
    this.fd.close(fd);
  }

  dup(fd: number): number {
    return this.fd.dup(fd);
  }

  dup2(oldfd: number, newfd: number): number {
    return this.fd.dup2(oldfd, newfd);
  }

  dup3(oldfd: number, newfd: number, flags: number): number {
    return this.fd.dup3(oldfd, newfd, flags);
  }

  fcntl(fd: number, cmd: number, arg?: number): number {
    return this.fd.fcntl(fd, cmd, arg);
  }

  ioctl(fd: number, request: number): number {
    return this.fd.ioctl(fd, request);
  }

  poll(fd: number, events: number, timeout: number, opts?: CallOptions): Promise<number>;
  poll(fds: readonly PollFd[], timeout: number, opts?: CallOptions): Promise<number[]>;
  poll(
    fd: number | readonly PollFd[], events: number, timeout?: number | CallOptions, opts?: CallOptions,
  ): Promise<number | number[]> {
    if (Array.isArray(fd)) return this.fd.pollSet(fd, events, timeout as CallOptions | undefined);
    return this.fd.poll(fd as number, events, timeout as number, opts);
  }

  socketpair(domain: number, type: number, protocol?: number): [number, number] {
    return this.sock.socketpair(domain, type, protocol);
  }

  send(fd: number, data: Uint8Array, flags?: number, opts?: CallOptions): Promise<number> {
    return this.sock.send(fd, data, flags, opts);
  }

  recv(fd: number, count: number, flags?: number, opts?: CallOptions): Promise<Datagram> {
    return this.sock.recv(fd, count, flags, opts);
  }

  sendto(fd: number, data: Uint8Array, path: string, flags?: number, opts?: CallOptions): Promise<number> {
    return this.sock.sendto(fd, data, path, flags, opts);
  }

  recvfrom(fd: number, count: number, flags?: number, opts?: CallOptions): Promise<DatagramFrom> {
    return this.sock.recvfrom(fd, count, flags, opts);
  }

  shutdown(fd: number, how: number): void {
    this.sock.shutdown(fd, how);
  }

  setsockopt(fd: number, optname: number, value: number): void {
    this.sock.setsockopt(fd, optname, value);
  }

  getsockopt(fd: number, optname: number): number {
    return this.sock.getsockopt(fd, optname);
  }

  // ---- Named AF_UNIX stream sockets (listen.ts, through sock.ts) ----

  socket(domain: number, type: number, protocol?: number): number {
    return this.sock.named.socket(domain, type, protocol);
  }

  bind(fd: number, path: string): void {
    this.sock.named.bind(fd, path);
  }

  getsockname(fd: number): string {
    return this.sock.named.getsockname(fd);
  }

  getpeername(fd: number): string {
    return this.sock.named.getpeername(fd);
  }

  listen(fd: number, backlog: number): void {
    this.sock.named.listen(fd, backlog);
  }

  connect(fd: number, path: string, opts?: CallOptions): Promise<void> {
    return this.sock.named.connect(fd, path, opts);
  }

  accept(fd: number, flags?: number, opts?: CallOptions): Promise<number> {
    return this.sock.named.accept(fd, flags, opts);
  }
}
