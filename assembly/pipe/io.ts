/**
 * Reading and writing a pipe: fs/pipe.c's anon_pipe_read, anon_pipe_write,
 * pipe_poll and the FIONREAD of pipe_ioctl, for anonymous pipes and FIFOs
 * alike (pipefifo_fops).
 *
 * The kernel's sleeping loops become passes: a pass runs the loop until it
 * would schedule() and answers WOULD_BLOCK; the caller then parks a waiter,
 * which the wake-ups of pipe.ts put on the run queue to run the next pass.
 *
 * Where bytes go. A pass copies between the pipe's pages and an address
 * (the staging buffer, a sleeping writer's own copy of its bytes, a block a
 * completion points at), or, planning (readInto / writeSync), only records
 * where they lie (abi.ts segments) for the host to copy once the call
 * returns; then the wake-ups the pass caused wait for commit(), so no woken
 * sleeper touches the pages before the host has copied.
 */

import { C_TOKEN, cellAddr, MAX_SEGS, reserveStage, retire, RETIRED_HEAD, segAdd, segDone, segReset, stage } from '../abi';
import { EAGAIN, EBADF, ENOMEM, EPIPE } from '../errno';
import { File, fget, FILE_PIPE, FMODE_READ, FMODE_WRITE, fput, O_DIRECT, O_NONBLOCK } from '../fd/file';
import { adopt, registerAdopt, REST_HEAD } from '../fd/restart';
import { fdFile } from '../fd/table';
import { PAGE_SIZE } from '../limits';
import { alloc, copyBytes, free } from '../mem/alloc';
import { Process } from '../proc/process';
import {
  cancel, complete, INTR_CANCELLED, INTR_COMPLETED, INTR_SLEEPING, listAppend, listRemove, park, PENDING, registerKind,
  setInterruptHook, Waiter,
} from '../wait/waiters';
import {
  bufAt, ensurePages, pageAt, Pipe, PIPE_BUF_FLAG_CAN_MERGE, PIPE_BUF_FLAG_PACKET, pipeEmpty, pipeFull, readersList,
  wakeOneReader, wakeOneWriter, writersList,
} from './pipe';

/** A pass's answer where the kernel would schedule(). */
export const WOULD_BLOCK: i32 = -0x10001;
/** A pass's answer where a pending signal stops a call that moved nothing (-ERESTARTSYS). */
const RESTART: i32 = -0x10005;

// poll bits (include/uapi/asm-generic/poll.h)
export const POLLIN: i32 = 0x001;
export const POLLOUT: i32 = 0x004;
export const POLLERR: i32 = 0x008;
export const POLLHUP: i32 = 0x010;
export const POLLRDNORM: i32 = 0x040;
export const POLLWRNORM: i32 = 0x100;

const OP_READ: i32 = 0;
const OP_WRITE: i32 = 1;

let ioKind: i32 = -1;

export function initPipeIo(): void {
  ioKind = registerKind(retryIo, releaseIo);
  setInterruptHook(ioKind, interruptIo);
  registerAdopt(FILE_PIPE, adoptIo);
}

/** True while a pass records segments instead of copying (readInto / writeSync). */
let planning: bool = false;
/** Bytes a write pass has moved so far (also when it answers WOULD_BLOCK). */
let moved: u32 = 0;

// @ts-ignore: decorator
@inline function isPacketized(f: File): bool {
  return (f.flags & O_DIRECT) != 0;
}

// --- write ----------------------------------------------------------------

/** Copies data[from, from + n) (data byte i at src + i) to `dst`, or records where it goes. */
// @ts-ignore: decorator
@inline function put(dst: usize, src: usize, from: u32, n: u32): void {
  if (planning) segAdd(dst, n);
  else copyBytes(dst, src + from, n);
}

/**
 * One pass of anon_pipe_write() over data[0, len) (byte i at src + i), of
 * which `ret` bytes are written already. A new call (`start`) checks for
 * readers and tries to merge its sub-page remainder (len & (PAGE_SIZE-1))
 * into the last slot, if that slot may merge and the bytes fit behind its
 * data; everything else goes into whole new slots, while one is free. A
 * woken writer continues the loop (was_empty re-read, wake_next_writer set).
 * Answers bytes written, -errno (EPIPE, EAGAIN, ENOMEM only when nothing was
 * written), or WOULD_BLOCK with the progress in `moved`; `signalled` (a
 * signal is pending) stops it where it would sleep: RESTART if nothing was
 * written (-ERESTARTSYS).
 */
/** Set by writePass when it found no reader: anon_pipe_write() sends SIGPIPE then, partial count or not. */
let sigpipe = false;

function writePass(pp: Pipe, f: File, src: usize, len: u32, ret: u32, start: bool, nonblock: bool, signalled: bool): i32 {
  sigpipe = false;
  let wasEmpty = pipeEmpty(pp);
  let wakeNext = !start;
  let result: i32 = 0;
  if (start) {
    if (pp.readers == 0) {
      sigpipe = true;
      return -EPIPE;
    }
    const chars = len & (PAGE_SIZE - 1);
    if (chars != 0 && !wasEmpty) {
      const buf = bufAt(pp, pp.head - 1);
      const offset = buf.offset + buf.len;
      if ((buf.flags & PIPE_BUF_FLAG_CAN_MERGE) != 0 && offset + chars <= PAGE_SIZE) {
        put(pageAt(pp, pp.head - 1) + offset, src, 0, chars);
        buf.len += chars;
        pp.bytes += chars;
        ret = chars;
      }
    }
  }
  while (ret < len) {
    if (pp.readers == 0) {
      sigpipe = true;
      result = -EPIPE;
      break;
    }
    if (!pipeFull(pp)) {
      if (!ensurePages(pp)) {
        result = -ENOMEM;
        break;
      }
      const rest = len - ret;
      const copied = rest < PAGE_SIZE ? rest : PAGE_SIZE;
      put(pageAt(pp, pp.head), src, ret, copied);
      const buf = bufAt(pp, pp.head);
      buf.offset = 0;
      buf.len = copied;
      buf.flags = isPacketized(f) ? PIPE_BUF_FLAG_PACKET : PIPE_BUF_FLAG_CAN_MERGE;
      pp.head++;
      pp.bytes += copied;
      ret += copied;
      continue;
    }
    if (nonblock || (f.flags & O_NONBLOCK) != 0) {
      result = -EAGAIN;
      break;
    }
    if (signalled) {
      result = RESTART;
      break;
    }
    // about to sleep: readers get what is there
    if (wasEmpty) wakeOneReader(pp);
    moved = ret;
    return WOULD_BLOCK;
  }
  if (pipeFull(pp)) wakeNext = false;
  if (wasEmpty || pp.pollUsage) wakeOneReader(pp);
  if (wakeNext) wakeOneWriter(pp);
  moved = ret;
  return ret != 0 ? <i32>ret : result;
}

/**
 * write(2) on a pipe end: data[0, len) at `src`, or planned (src ignored;
 * segments for the host). A write that must sleep keeps its own copy of the
 * bytes not yet written and answers PENDING (token in C_TOKEN).
 */
export function pipeWrite(p: Process, fd: i32, f: File, src: usize, len: u32, nonblock: bool, plan: bool): i32 {
  const pp = changetype<Pipe>(f.obj);
  if (len == 0) return 0; // "Null write succeeds", before the readers check
  planning = plan;
  if (plan) segReset();
  const r = writePass(pp, f, src, len, 0, true, nonblock, false);
  if (sigpipe) p.sigpipes++;
  if (plan) {
    planning = false;
    segDone();
    if (!ASC_NO_ASSERT) assert(r != WOULD_BLOCK, 'a planned write never sleeps');
    return r;
  }
  if (r != WOULD_BLOCK) return r;
  const done = moved;
  const restBytes = <usize>(len - done);
  const rest = alloc(REST_HEAD + restBytes);
  if (rest == 0) return done != 0 ? <i32>done : -ENOMEM;
  const w = park(ioKind, p, writersList(pp), changetype<usize>(pp));
  if (w === null) {
    free(rest, REST_HEAD + restBytes);
    return done != 0 ? <i32>done : -ENOMEM;
  }
  store<u32>(rest, <u32>restBytes);
  store<u32>(rest, done, 4);
  store<u32>(rest, len, 8);
  memory.copy(rest + REST_HEAD, src + done, restBytes);
  fget(f);
  w.block = changetype<usize>(f);
  w.arg0 = <i64>done;
  w.arg1 = <i64>rest;
  w.arg2 = OP_WRITE | (fd << 8);
  w.arg3 = <i32>len;
  store<i32>(cellAddr(C_TOKEN), w.token);
  return PENDING;
}

// --- read -----------------------------------------------------------------

/** Copies `n` bytes at `from` to dst + at, or records where they lie. */
// @ts-ignore: decorator
@inline function take(from: usize, dst: usize, at: u32, n: u32): void {
  if (planning) segAdd(from, n);
  else copyBytes(dst + at, from, n);
}

/**
 * One pass of anon_pipe_read() for `count` bytes into `dst`: slot by slot
 * from the tail; a slot frees only once it is read whole; a packet slot
 * ends the read and loses what did not fit. It returns as soon as it has a
 * byte; an empty pipe answers EOF (0) without writers, EAGAIN when
 * non-blocking, else WOULD_BLOCK. A woken reader (`woken`) wakes the next one
 * unless it left the pipe empty; a reader that freed a slot of a full pipe
 * wakes one writer.
 */
function readPass(pp: Pipe, f: File, dst: usize, count: u32, nonblock: bool, woken: bool): i32 {
  let ret: u32 = 0;
  let total = count;
  let wakeWriter = false;
  let wakeNextReader = woken;
  while (!pipeEmpty(pp)) {
    const buf = bufAt(pp, pp.tail);
    let chars = buf.len;
    if (chars > total) chars = total;
    take(pageAt(pp, pp.tail) + buf.offset, dst, ret, chars);
    ret += chars;
    buf.offset += chars;
    buf.len -= chars;
    pp.bytes -= chars;
    if ((buf.flags & PIPE_BUF_FLAG_PACKET) != 0) {
      total = chars;
      pp.bytes -= buf.len;
      buf.len = 0;
    }
    if (buf.len == 0) {
      wakeWriter = wakeWriter || pipeFull(pp);
      pp.tail++;
    }
    total -= chars;
    if (total == 0) break;
  }
  if (ret == 0 && pp.writers != 0) {
    // nothing read: no wake-ups are due (the kernel returns before them, or sleeps)
    return nonblock || (f.flags & O_NONBLOCK) != 0 ? -EAGAIN : WOULD_BLOCK;
  }
  if (pipeEmpty(pp)) wakeNextReader = false;
  if (wakeWriter) wakeOneWriter(pp);
  if (wakeNextReader) wakeOneReader(pp);
  return <i32>ret;
}

/** The most a read of `count` can take now (the bytes it copies are at most this). */
// @ts-ignore: decorator
@inline function readable(pp: Pipe, count: u32): u32 {
  return pp.bytes < count ? pp.bytes : count;
}

/** Segments a planned read of `n` bytes needs (counted before anything moves); MAX_SEGS + 1 for too many. */
function segmentsFor(pp: Pipe, n: u32): i32 {
  let segs = 0;
  let end: usize = 0;
  let i = pp.tail;
  while (n != 0 && i != pp.head) {
    const buf = bufAt(pp, i);
    const at = pageAt(pp, i) + buf.offset;
    const chars = buf.len < n ? buf.len : n;
    if (chars != 0 && at != end) {
      if (++segs > MAX_SEGS) return segs;
    }
    end = at + chars;
    n -= chars;
    if ((buf.flags & PIPE_BUF_FLAG_PACKET) != 0) break;
    i++;
  }
  return segs;
}

/**
 * read(2) on a pipe end. `plan`: the bytes stay in the pages and the
 * segments say where (readInto); past MAX_SEGS pieces they are copied into
 * the staging buffer instead, which is then the one segment. Otherwise they
 * are copied to the staging buffer. A read that must sleep answers PENDING;
 * it completes with a block of its bytes.
 */
export function pipeRead(p: Process, fd: i32, f: File, count: u32, nonblock: bool, plan: bool): i32 {
  const pp = changetype<Pipe>(f.obj);
  if (count == 0) return 0; // "Null read succeeds"
  const n = readable(pp, count);
  let direct = plan && segmentsFor(pp, n) <= MAX_SEGS;
  if (!direct && !reserveStage(<usize>n)) return -ENOMEM;
  planning = direct;
  if (plan) segReset();
  const r = readPass(pp, f, stage(), count, nonblock, false);
  planning = false;
  if (plan) {
    if (!direct && r > 0) segAdd(stage(), <u32>r);
    segDone();
  }
  if (r != WOULD_BLOCK) return r;
  const w = park(ioKind, p, readersList(pp), changetype<usize>(pp));
  if (w === null) return -ENOMEM;
  fget(f);
  w.block = changetype<usize>(f);
  w.arg0 = 0;
  w.arg1 = 0;
  w.arg2 = OP_READ | (fd << 8);
  w.arg3 = <i32>count;
  store<i32>(cellAddr(C_TOKEN), w.token);
  return PENDING;
}

// --- sleepers -------------------------------------------------------------

// @ts-ignore: decorator
@inline function opOf(w: Waiter): i32 {
  return w.arg2 & 0xff;
}

/** The read's next pass into a block its completion points at: true when it completed, false when it sleeps again (at the tail). */
function readStep(w: Waiter, pp: Pipe, f: File, woken: bool): bool {
  const count = <u32>w.arg3;
  // the bytes go to a block the completion points at, behind the two words retire() links it with
  const size = RETIRED_HEAD + <usize>readable(pp, count);
  const block = alloc(size);
  if (block == 0) {
    complete(w, -ENOMEM, 0, 0, 0);
    return true;
  }
  const r = readPass(pp, f, block + RETIRED_HEAD, count, false, woken);
  if (r == WOULD_BLOCK) {
    free(block, size);
    listAppend(readersList(pp), w);
    return false;
  }
  complete(w, r, 0, 0, block + RETIRED_HEAD);
  retire(block, size);
  return true;
}

/** The write's next pass over its own copy of its bytes: true when it completed, false when it sleeps again. */
function writeStep(w: Waiter, pp: Pipe, f: File, start: bool, signalled: bool): bool {
  const rest = <usize>w.arg1;
  const base = rest + REST_HEAD - <usize>load<u32>(rest, 4);
  const r = writePass(pp, f, base, <u32>w.arg3, <u32>w.arg0, start, false, signalled);
  // the writer's own loop runs here on its behalf: the signal is its
  if (sigpipe) changetype<Process>(w.proc).sigpipes++;
  if (r == WOULD_BLOCK) {
    w.arg0 = <i64>moved;
    listAppend(writersList(pp), w);
    return false;
  }
  if (r == RESTART) {
    // a signal and nothing moved: the caller decides (EINTR, or the restarted call)
    return false;
  }
  complete(w, r, 0, 0, 0);
  return true;
}

/**
 * A woken sleeper first re-checks what it waits for, as
 * wait_event_interruptible_exclusive() does before it returns to the loop:
 * pipe_readable() (data, or no writer) or pipe_writable() (a free slot, or
 * no reader). A wake-up that finds it false (a resize that freed nothing)
 * puts it back at the tail, its loop not run: O_NONBLOCK set meanwhile
 * changes nothing.
 */
function retryIo(w: Waiter): void {
  const pp = changetype<Pipe>(w.obj);
  const f = changetype<File>(w.block);
  const read = opOf(w) == OP_READ;
  if (read ? pipeEmpty(pp) && pp.writers != 0 : pipeFull(pp) && pp.readers != 0) {
    listAppend(read ? readersList(pp) : writersList(pp), w);
    return;
  }
  if (read) readStep(w, pp, f, true);
  else writeStep(w, pp, f, false, false);
}

/** The file reference the call held, and a writer's copy of its bytes. */
function releaseIo(w: Waiter): void {
  if (opOf(w) == OP_WRITE) {
    const rest = <usize>w.arg1;
    free(rest, REST_HEAD + <usize>load<u32>(rest));
  }
  // the last reference releases the end: its wake-ups run at the end of this call
  fput(changetype<File>(w.block));
}

/**
 * A signal. A sleeping reader returns -ERESTARTSYS at once; a sleeping
 * writer runs its loop once more first (anon_pipe_write ignores the wait's
 * answer), where O_NONBLOCK set meanwhile gives EAGAIN and bytes it has
 * moved give their count. Otherwise: EINTR, or under SA_RESTART the call
 * is made again from the start, as the kernel restarts it: the descriptor
 * is looked up again (closed meanwhile: EBADF), the file's flags read again,
 * and if it must sleep it goes to the tail of its queue.
 */
function interruptIo(w: Waiter, restart: bool): i32 {
  const pp = changetype<Pipe>(w.obj);
  const f = changetype<File>(w.block);
  const op = opOf(w);
  if (op == OP_WRITE) {
    listRemove(w);
    if (writeStep(w, pp, f, false, true)) return INTR_COMPLETED;
  }
  if (!restart) {
    cancel(w);
    return INTR_CANCELLED;
  }
  listRemove(w);
  const p = changetype<Process>(w.proc);
  const now = fdFile(p, w.arg2 >> 8);
  if (now === null || (now.fmode & (op == OP_READ ? FMODE_READ : FMODE_WRITE)) == 0) {
    complete(w, -EBADF, 0, 0, 0);
    return INTR_COMPLETED;
  }
  if (now !== f) {
    fget(now);
    w.block = changetype<usize>(now);
    w.obj = now.obj;
    fput(f);
  }
  // a socket now: the restarted read or write goes there
  if (now.kind != FILE_PIPE) return adopt(w, now, w.arg2 >> 8, op == OP_WRITE, <u32>w.arg3, <usize>w.arg1);
  const np = changetype<Pipe>(now.obj);
  const done = op == OP_READ ? readStep(w, np, now, false) : writeStep(w, np, now, true, false);
  return done ? INTR_COMPLETED : INTR_SLEEPING;
}

/** A read or write restarted on a descriptor that names a pipe end now (fd/restart.ts). */
function adoptIo(w: Waiter, f: File, fd: i32, write: bool, count: u32, rest: usize): i32 {
  w.kind = ioKind;
  w.obj = f.obj;
  w.arg0 = 0;
  w.arg1 = <i64>rest;
  w.arg2 = (write ? OP_WRITE : OP_READ) | (fd << 8);
  w.arg3 = <i32>count;
  const pp = changetype<Pipe>(f.obj);
  const done = write ? writeStep(w, pp, f, true, false) : readStep(w, pp, f, false);
  return done ? INTR_COMPLETED : INTR_SLEEPING;
}

// --- poll, FIONREAD --------------------------------------------------------

/** pipe_poll(): the mask; it marks the pipe as polled (every later write then wakes a reader). */
export function pipePoll(f: File): i32 {
  const pp = changetype<Pipe>(f.obj);
  pp.pollUsage = true;
  let mask = 0;
  if ((f.fmode & 1) != 0) {
    if (!pipeEmpty(pp)) mask |= POLLIN | POLLRDNORM;
    if (pp.writers == 0 && f.fpipe != pp.wCounter) mask |= POLLHUP;
  }
  if ((f.fmode & 2) != 0) {
    if (!pipeFull(pp)) mask |= POLLOUT | POLLWRNORM;
    if (pp.readers == 0) mask |= POLLERR;
  }
  return mask;
}

/** FIONREAD: every unread byte. */
// @ts-ignore: decorator
@inline export function pipeUnread(f: File): i32 {
  return <i32>changetype<Pipe>(f.obj).bytes;
}
