/**
 * pipe2() and the end of a pipe end (pipe_release), and the pipe's fcntl
 * commands (pipe_fcntl).
 */

import { C_AUX2, cellAddr } from '../abi';
import { EINVAL, ENOMEM } from '../errno';
import {
  discardFile, File, FILE_PIPE, FMODE_READ, FMODE_WRITE, newFile, O_CLOEXEC, O_DIRECT, O_NONBLOCK, O_NOTIFICATION_PIPE,
  O_RDONLY, O_WRONLY, registerFileKind,
} from '../fd/file';
import { fdInstall, fdReserve, fdUnreserve } from '../fd/table';
import { PAGE_SHIFT } from '../limits';
import { Process } from '../proc/process';
import { initFifo, putPipe } from './fifo';
import { initPipeIo } from './io';
import { newPipe, newPipeError, Pipe, setPipeSize, wakeEveryone } from './pipe';

export function initPipes(): void {
  registerFileKind(FILE_PIPE, pipeRelease);
  initPipeIo();
  initFifo();
}

/**
 * do_pipe2(): flags other than O_CLOEXEC, O_NONBLOCK, O_DIRECT -> EINVAL
 * (O_NOTIFICATION_PIPE, a watch queue, is not modelled: EINVAL too); the
 * pipe (ENFILE over pipe-user-pages-hard), then two numbers (EMFILE). The
 * read end's F_GETFL is O_RDONLY (| O_NONBLOCK), the write end's O_WRONLY
 * (| O_NONBLOCK | O_DIRECT). Answers the read end; the write end is in C_AUX2.
 */
export function pipe2(p: Process, flags: i32): i32 {
  if ((flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT | O_NOTIFICATION_PIPE)) != 0) return -EINVAL;
  if ((flags & O_NOTIFICATION_PIPE) != 0) return -EINVAL;
  const pp = newPipe(p);
  if (pp === null) return -newPipeError;
  pp.readers = 1;
  pp.writers = 1;
  pp.rCounter = 1;
  pp.wCounter = 1;
  pp.files = 2;
  const fw = newFile(FILE_PIPE, O_WRONLY | (flags & (O_NONBLOCK | O_DIRECT)), FMODE_WRITE, changetype<usize>(pp));
  const fr = newFile(FILE_PIPE, O_RDONLY | (flags & O_NONBLOCK), FMODE_READ, changetype<usize>(pp));
  if (fw === null || fr === null) {
    if (fw !== null) discardFile(fw);
    if (fr !== null) discardFile(fr);
    freePipeNow(pp);
    return -ENOMEM;
  }
  const rfd = fdReserve(p);
  const wfd = rfd < 0 ? rfd : fdReserve(p);
  if (wfd < 0) {
    if (rfd >= 0) fdUnreserve(p, rfd);
    discardFile(fw);
    discardFile(fr);
    freePipeNow(pp);
    return wfd;
  }
  const cloexec = (flags & O_CLOEXEC) != 0;
  fdInstall(p, rfd, fr, cloexec);
  fdInstall(p, wfd, fw, cloexec);
  store<i32>(cellAddr(C_AUX2), wfd);
  return rfd;
}

function freePipeNow(pp: Pipe): void {
  pp.files = 1;
  putPipe(pp);
}

/**
 * pipe_release(): the end's reader and writer counts drop; if that leaves
 * readers without writers or writers without readers, everyone sleeping on
 * the pipe wakes (readers to see EOF, writers EPIPE); then put_pipe_info.
 */
function pipeRelease(f: File): void {
  const pp = changetype<Pipe>(f.obj);
  if ((f.fmode & FMODE_READ) != 0) pp.readers--;
  if ((f.fmode & FMODE_WRITE) != 0) pp.writers--;
  if ((pp.readers == 0) != (pp.writers == 0)) wakeEveryone(pp);
  putPipe(pp);
}

/** F_GETPIPE_SZ. */
export function pipeGetSize(f: File): i32 {
  return <i32>(changetype<Pipe>(f.obj).maxUsage << PAGE_SHIFT);
}

/** F_SETPIPE_SZ: its argument as the kernel's unsigned int. */
export function pipeSetSize(p: Process, f: File, arg: i32): i32 {
  return setPipeSize(p, changetype<Pipe>(f.obj), <u32>arg);
}
