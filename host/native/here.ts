/**
 * This process with calls that sleep on the calling thread: the Process of
 * api.ts whose msgsnd, msgrcv, semop, semtimedop, open, read, write, poll,
 * send, recv, connect and accept block the thread that makes them (its event loop stops
 * meanwhile) and return promises already settled. Another thread ends such
 * a sleep with {@link interruptThread}, as a signal whose handler runs
 * would (EINTR), or with restart as one installed with SA_RESTART.
 *
 * Not part of the public surface: the conformance agent uses it so that an
 * actor's call made on its main thread is the main thread's in the kernel's
 * eyes (ipc/msg.c: pipelined_send() records the receiving thread, task_pid,
 * in msg_lrpid; FORMAT.md: "a runner makes the first call of an actor on its
 * main thread"). Everything else is openNative().self()'s.
 */

import type { CallOptions, Datagram, DatagramFrom, Message, MType, PollFd, SemBuf, Timespec } from '../api.js';
import { loadAddon } from './load.js';
import { nativeCalls } from './index.js';
import { NativeProcess } from './process.js';

class ThreadProcess extends NativeProcess {
  override msgsnd(msqid: number, mtype: MType, data: Uint8Array, msgflg?: number, opts?: CallOptions): Promise<void> {
    try {
      this.msg.msgsndHere(msqid, mtype, data, msgflg, opts);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  override msgrcv(msqid: number, msgsz: number, msgtyp: MType, msgflg?: number, opts?: CallOptions): Promise<Message> {
    try {
      return Promise.resolve(this.msg.msgrcvHere(msqid, msgsz, msgtyp, msgflg, opts));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  override semop(semid: number, sops: readonly SemBuf[], opts?: CallOptions): Promise<void> {
    try {
      this.sem.semopHere(semid, sops, opts);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  override semtimedop(semid: number, sops: readonly SemBuf[], timeout: number | Timespec | null, opts?: CallOptions): Promise<void> {
    try {
      this.sem.semtimedopHere(semid, sops, timeout, opts);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  override open(path: string, flags: number, mode?: number, opts?: CallOptions): Promise<number> {
    return settled(() => this.fd.openHere(path, flags, mode, opts));
  }

  override read(fd: number, count: number, opts?: CallOptions): Promise<Uint8Array> {
    return settled(() => this.fd.readHere(fd, count, opts));
  }

  override write(fd: number, data: Uint8Array, opts?: CallOptions): Promise<number> {
    return settled(() => this.fd.writeHere(fd, data, opts));
  }

  override poll(fd: number, events: number, timeout: number, opts?: CallOptions): Promise<number>;
  override poll(fds: readonly PollFd[], timeout: number, opts?: CallOptions): Promise<number[]>;
  override poll(
    fd: number | readonly PollFd[], events: number, timeout?: number | CallOptions, opts?: CallOptions,
  ): Promise<number | number[]> {
    if (Array.isArray(fd)) return settled(() => this.fd.pollSetHere(fd, events, timeout as CallOptions | undefined));
    return settled(() => this.fd.pollHere(fd as number, events, timeout as number, opts));
  }

  override send(fd: number, data: Uint8Array, flags?: number, opts?: CallOptions): Promise<number> {
    return settled(() => this.sock.sendHere(fd, data, flags, opts));
  }

  override recv(fd: number, count: number, flags?: number, opts?: CallOptions): Promise<Datagram> {
    return settled(() => {
      const { data, length } = this.sock.recvHere(fd, count, flags, opts);
      return { data, length };
    });
  }

  override sendto(fd: number, data: Uint8Array, path: string, flags?: number, opts?: CallOptions): Promise<number> {
    return settled(() => this.sock.sendHere(fd, data, flags, opts, path));
  }

  override recvfrom(fd: number, count: number, flags?: number, opts?: CallOptions): Promise<DatagramFrom> {
    return settled(() => this.sock.recvHere(fd, count, flags, opts, true));
  }

  override connect(fd: number, path: string, opts?: CallOptions): Promise<void> {
    return settled(() => this.sock.named.connectHere(fd, path, opts));
  }

  override accept(fd: number, flags?: number, opts?: CallOptions): Promise<number> {
    return settled(() => this.sock.named.acceptHere(fd, flags, opts));
  }
}

/** The outcome of a call that already ran, as a settled promise. */
function settled<T>(body: () => T): Promise<T> {
  try {
    return Promise.resolve(body());
  } catch (error) {
    return Promise.reject(error);
  }
}

let here: ThreadProcess | undefined;

/**
 * This process, making each call on the calling thread: blocking calls sleep
 * there. `opts.signal` counts only if already aborted; `opts.timeout` is a
 * TypeError (no timer runs while the thread sleeps). Throws as openNative()
 * does where the addon cannot load.
 */
export function threadSelf(): NativeProcess {
  here ??= new ThreadProcess(nativeCalls());
  return here;
}

/**
 * Interrupts the call thread `tid` of this process sleeps in through
 * threadSelf(): it fails with EINTR, or keeps what it had already done.
 * With `restart`, a restartable call (read, write, send, recv, connect, accept, a FIFO open)
 * is delivered one signal whose handler has SA_RESTART instead: Linux
 * restarts it (it sleeps on) or it returns the bytes it had already moved;
 * poll and SysV calls are interrupted as without it. Answers whether that
 * thread has such a call.
 */
export function interruptThread(tid: number, restart = false): boolean {
  if (typeof restart !== 'boolean') throw new TypeError('restart must be a boolean');
  return loadAddon().interruptThread(tid, restart);
}

/** The calling thread's id, as interruptThread names it (the main thread's is process.pid). */
export function threadId(): number {
  return loadAddon().threadId();
}
