/**
 * Abstract socket names (a leading NUL): no file, no permission, one
 * namespace per kernel. Linux hashes a name with the socket's type
 * (unix_abstract_hash), so each type has names of its own: a stream and a
 * datagram socket may both hold "\0x", and a connect finds only its own
 * type (ECONNREFUSED, never EPROTOTYPE). A name is held from bind until its
 * socket is released; the sockets a listener accepts carry it but do not
 * hold it.
 *
 * Autobind (bind with no path): "\0" and five hex digits, the next free one
 * after the last handed out (Linux starts from a random number; here the
 * first is 00001, so runs repeat).
 */

import { alloc, free } from '../mem/alloc';
import { ECONNREFUSED, EADDRINUSE, EINVAL, ENOMEM, ENOSPC, EPROTOTYPE } from '../errno';
import { sockFind } from '../pipe/fifo';
import { Process } from '../proc/process';
import { addrNew, Sock } from './sock';

/** `how` bits of a socket name beside the path ones (pipe/fifo.ts): an abstract name; bind with no name (autobind); sendto's name, given (empty: EINVAL). */
export const ABSTRACT: i32 = 8;
export const AUTOBIND: i32 = 16;
export const NAMED: i32 = 32;

/**
 * unix_find_other(): the socket of `type` the staged name leads to. A path:
 * its lookup's errors (ENOENT, ENOTDIR, EACCES, ECONNREFUSED), then
 * EPROTOTYPE for another type; an abstract name: ECONNREFUSED unless a
 * socket of this type holds it.
 */
export function findOther(p: Process, type: i32, path: usize, len: u32, how: i32): isize {
  if ((how & ABSTRACT) != 0) return abstractFind(type, path, len);
  const r = sockFind(p, path, len, how);
  if (r < 0) return r;
  return changetype<Sock>(<usize>r).type != type ? <isize>-EPROTOTYPE : r;
}

/** The sockets holding an abstract name, linked through `nameNext`. */
let holders: usize = 0;
let lastAuto: u32 = 0;
const AUTO_LEN: u32 = 6;
const SUN_PATH: u32 = 108;

function nameEquals(a: usize, src: usize, len: u32): bool {
  return load<u32>(a, 4) == len && memory.compare(a + 8, src, <usize>len) == 0;
}

function holder(type: i32, src: usize, len: u32): Sock | null {
  let cur = holders;
  while (cur != 0) {
    const s = changetype<Sock>(cur);
    if (s.type == type && nameEquals(s.addr, src, len)) return s;
    cur = s.nameNext;
  }
  return null;
}

function hold(s: Sock, addr: usize): void {
  s.addr = addr;
  s.holdsName = true;
  s.nameNext = holders;
  holders = changetype<usize>(s);
}

/** unix_bind_abstract() of the `len` bytes at `src` (the leading NUL among them): EINVAL when bound or too long, EADDRINUSE. */
export function abstractBind(s: Sock, src: usize, len: u32): i32 {
  if (len > SUN_PATH) return -EINVAL;
  if (s.addr != 0) return -EINVAL;
  if (holder(s.type, src, len) !== null) return -EADDRINUSE;
  const addr = addrNew(src, len);
  if (addr == 0) return -ENOMEM;
  hold(s, addr);
  return 0;
}

/** unix_autobind(): a bound socket keeps its name (0); otherwise the next free "\0%05x" of its type, or ENOSPC. */
export function autobind(s: Sock): i32 {
  if (s.addr != 0) return 0;
  const buf = alloc(<usize>AUTO_LEN);
  if (buf == 0) return -ENOMEM;
  const first = lastAuto;
  let r = -ENOSPC;
  let searching = true;
  while (searching) {
    lastAuto = (lastAuto + 1) & 0xfffff;
    store<u8>(buf, 0);
    for (let i: u32 = 0; i < 5; i++) {
      const digit = (lastAuto >> ((4 - i) << 2)) & 0xf;
      store<u8>(buf + 1 + <usize>i, digit < 10 ? 0x30 + digit : 0x57 + digit);
    }
    if (holder(s.type, buf, AUTO_LEN) === null) {
      const addr = addrNew(buf, AUTO_LEN);
      r = addr == 0 ? -ENOMEM : 0;
      if (addr != 0) hold(s, addr);
      searching = false;
    } else if (lastAuto == first) {
      searching = false; // every name taken
    }
  }
  free(buf, <usize>AUTO_LEN);
  return r;
}

/** unix_find_abstract(): the socket of `type` holding the name, or ECONNREFUSED. */
export function abstractFind(type: i32, src: usize, len: u32): isize {
  const s = holder(type, src, len);
  return s === null ? <isize>-ECONNREFUSED : changetype<isize>(s);
}

/** At release: the name is free for others (the socket keeps its addr for getsockname and its peers). */
export function abstractRelease(s: Sock): void {
  if (!s.holdsName) return;
  let prev: usize = 0;
  let cur = holders;
  while (cur != changetype<usize>(s)) {
    prev = cur;
    cur = changetype<Sock>(cur).nameNext;
  }
  if (prev == 0) holders = s.nameNext;
  else changetype<Sock>(prev).nameNext = s.nameNext;
  s.nameNext = 0;
  s.holdsName = false;
}
