/**
 * Regular files of the namespace (pipe/fifo.ts makes them with
 * open(O_CREAT)), held in memory: read and write at the description's f_pos
 * (O_APPEND writes at the end), never sleeping. There is no lseek, so f_pos
 * only moves forward. The model keeps sizes in 32 bits: a write past
 * 2^31 - 1 bytes is EFBIG.
 */

import { C_AUX, cellAddr, reserveStage, segAdd, segDone, segReset, stage } from '../abi';
import { EFBIG, ENOMEM } from '../errno';
import { alloc, free } from '../mem/alloc';
import { FifoNode, regClosed } from '../pipe/fifo';
import { File, FILE_REG, O_APPEND, registerFileKind } from './file';

export function initRegularFiles(): void {
  registerFileKind(FILE_REG, release);
}

function release(f: File): void {
  regClosed(changetype<FifoNode>(f.obj));
}

/** read(2): up to `count` bytes from f_pos, to the staging buffer or planned (the file's own bytes are the segment). */
export function regRead(f: File, count: u32, plan: bool): i32 {
  const node = changetype<FifoNode>(f.obj);
  const left = node.size > f.pos ? node.size - f.pos : 0;
  const n = count < left ? count : left;
  if (plan) {
    segReset();
    if (n != 0) segAdd(node.data + f.pos, n);
    segDone();
  } else {
    if (!reserveStage(<usize>n)) return -ENOMEM;
    if (n != 0) memory.copy(stage(), node.data + f.pos, <usize>n);
  }
  f.pos += n;
  store<i32>(cellAddr(C_AUX), <i32>n);
  return <i32>n;
}

/** write(2) of data[0, len) at `src`: at f_pos (the end with O_APPEND); a gap reads as zeros. */
export function regWrite(f: File, src: usize, len: u32): i32 {
  const node = changetype<FifoNode>(f.obj);
  if ((f.flags & O_APPEND) != 0) f.pos = node.size;
  const end = <u64>f.pos + <u64>len;
  if (end > <u64>i32.MAX_VALUE) return -EFBIG;
  if (<u32>end > node.cap) {
    let cap = node.cap < 64 ? <u32>64 : node.cap;
    while (cap < <u32>end) cap = cap > 0x40000000 ? <u32>end : cap << 1;
    const grown = alloc(<usize>cap);
    if (grown == 0) return -ENOMEM;
    if (node.data != 0) {
      memory.copy(grown, node.data, <usize>node.size);
      free(node.data, <usize>node.cap);
    }
    node.data = grown;
    node.cap = cap;
  }
  if (f.pos > node.size) memory.fill(node.data + node.size, 0, <usize>(f.pos - node.size));
  memory.copy(node.data + f.pos, src, <usize>len);
  f.pos = <u32>end;
  if (<u32>end > node.size) node.size = <u32>end;
  return <i32>len;
}

/** FIONREAD on a regular file: i_size - f_pos. */
export function regUnread(f: File): i32 {
  const node = changetype<FifoNode>(f.obj);
  return node.size > f.pos ? <i32>(node.size - f.pos) : 0;
}
