/**
 * The descriptor half of the operation generator: pipes and AF_UNIX
 * socketpairs, with reads, writes, sends, receives, closes, fcntl, FIONREAD,
 * poll, shutdown and getsockopt on their ends.
 *
 * What it aims at: pipe writes at the sizes where Linux's page-slot rules
 * show (fs/pipe.c: 1, 2047, 2049, 4096, 4097, 61440, 65536, 69632 bytes),
 * reads that take part of a page, O_NONBLOCK set and cleared with F_SETFL,
 * F_SETPIPE_SZ at and around its roundings and limits, ends closed while
 * the other end reads or writes, shutdown in each direction, MSG_PEEK /
 * MSG_TRUNC / MSG_DONTWAIT, and calls on the wrong end or on no descriptor.
 *
 * What it keeps away from:
 * - a descriptor named by an actor that did not make it: descriptors are
 *   per process, and the same number names different things on the two
 *   backends (the native agents hold descriptors of their own);
 * - a closed descriptor's name once any descriptor has been made since: its
 *   number may then name the new one, and numbers differ between backends;
 * - socket buffers near SO_SNDBUF: Linux counts each skb's truesize, an
 *   allocator detail the model does not copy, so at most 16 KiB and 16
 *   sends wait unread toward a socket end;
 * - two calls asleep on one pipe or socketpair.
 * At the end of an episode every call still asleep on a descriptor is
 * interrupted (a datagram receive may otherwise sleep for ever: a closed
 * peer does not end it, af_unix.c) and every end still open is closed.
 */

import type { Rng } from './prng.js';
import { forkName, pairNames, type FuzzStep } from './trace.js';

type PairKind = 'pipe' | 'SOCK_STREAM' | 'SOCK_DGRAM' | 'SOCK_SEQPACKET';

interface End {
  /** The name its descriptor is bound to ("r5"). */
  sym: string;
  /** The actors whose tables hold it (the maker, and the children forked since, until each closes it). */
  open: Set<string>;
  /** O_NONBLOCK of its open file description, which forked copies share. */
  nonblock: boolean;
  /** What waits unread toward this end: one entry per write or send that went in (bytes). */
  queue: number[];
}

interface FdPair {
  n: number;
  kind: PairKind;
  /** pipe: [read end, write end]; socketpair: the two sockets. */
  ends: [End, End];
}

/** A call asleep on a pair: what its answer will change once it ends. */
interface Sleeper {
  by: string;
  pair: FdPair;
  end: 0 | 1;
  op: string;
  flags: string;
}

/** Sizes around the page-slot rules of fs/pipe.c (CHECKLIST 133-135). */
const PIPE_SIZES = [0, 1, 2, 7, 100, 512, 2047, 2048, 2049, 4095, 4096, 4097, 8191, 8193, 16384, 61440, 65535, 65536, 65537, 69632, 131072];
const READ_COUNTS = [0, 1, 2, 7, 100, 2047, 2048, 4096, 4097, 8192, 65536, 100000];
const PIPE_SIZES_SET = [0, 1, 4096, 4097, 5000, 8192, 16384, 65536, 131072, 1048576, 1048577, 2147483648];
const SOCKET_BYTES = 16384;
const SOCKET_SENDS = 16;
/** Descriptor numbers no table holds (EBADF): negative, and above RLIMIT_NOFILE's hard cap. */
const BAD_FDS = [-1, 1 << 20];

export interface FdGeneratorOptions {
  pipes: boolean;
  sockets: boolean;
  /** Fork holders of ends and exit the children. */
  forks: boolean;
  /** Random bytes of a size, as the message generator makes them. */
  data(size: number): Uint8Array;
}

export class FdGenerator {
  private readonly pairs: FdPair[] = [];
  private readonly sleepers = new Map<number, Sleeper>();
  /** "actor:name" of closed ends whose names still surely name no descriptor of that actor (none made since). */
  private stale: string[] = [];
  /** Forked actors alive. */
  private readonly children: string[] = [];
  /** The actor the step being made runs as. */
  private by = '';

  constructor(private readonly rng: Rng, private readonly opts: FdGeneratorOptions) {}

  /** Weights of the choices this generator adds to the generator's draw. */
  weights(canBlock: boolean): Array<readonly [string, number]> {
    const live = this.pairs.filter((p) => p.ends.some((e) => e.open.size > 0));
    const room = live.length < 4 ? 1 : 0;
    const some = live.length > 0 ? 1 : 0;
    const idle = this.children.filter((c) => !this.sleeping(c));
    return [
      ['pipe', this.opts.pipes ? (live.length === 0 ? 30 : 6 * room) : 0],
      ['socketpair', this.opts.sockets ? (live.length === 0 ? 30 : 6 * room) : 0],
      ['fd-write', some * 40],
      ['fd-read', some * 36],
      ['fd-ctl', some * 18],
      ['fd-close', some * 4],
      ['fd-bad', some * 1.5],
      ['fd-sleep', some * (canBlock ? 6 : 0)],
      ['fd-fork', this.opts.forks && this.children.length < 2 ? some * 2 : 0],
      ['fd-exit', idle.length > 0 ? 1.5 : 0],
    ];
  }

  /**
   * The call step for a choice of weights(): by the owner of the descriptor it
   * names, or by `actor` for a new pair or a call on no descriptor.
   */
  step(choice: string, n: number, canBlock: boolean, actor: string): FuzzStep {
    const r = this.rng;
    switch (choice) {
      case 'pipe':
        return this.made(n, actor, 'pipe', r.weighted<unknown[]>([[[], 70], [['O_NONBLOCK'], 25], [['O_CLOEXEC'], 3], [['O_CREAT'], 2]]));
      case 'socketpair': {
        const type = r.weighted<string>([['SOCK_STREAM', 40], ['SOCK_DGRAM', 30], ['SOCK_SEQPACKET', 30]]);
        return this.made(n, actor, 'socketpair', ['AF_UNIX', r.chance(0.2) ? `${type}|SOCK_NONBLOCK` : type]);
      }
      case 'fd-bad':
        return this.badCall(n, actor);
      case 'fd-fork': {
        // a holder of some end forks: the child gets a copy of its table
        const holders = [...new Set(this.pairs.flatMap((p) => p.ends.flatMap((e) => [...e.open])))];
        return { kind: 'fork', n, by: r.pick(holders), child: forkName(n) };
      }
      case 'fd-exit':
        return { kind: 'exit', n, by: r.pick(this.children.filter((c) => !this.sleeping(c))) };
      default: {
        const pair = r.pick(this.pairs.filter((p) => p.ends.some((e) => e.open.size > 0)));
        this.by = r.pick([...new Set(pair.ends.flatMap((e) => [...e.open]))]);
        const sleeper = [...this.sleepers.values()].find((s) => s.pair === pair);
        const busy = sleeper !== undefined;
        // beside a sleeper only what cannot sleep too: the call that wakes it, or one on an O_NONBLOCK end
        if (choice === 'fd-write' && sleeper !== undefined && (sleeper.op === 'write' || sleeper.op === 'send')) {
          // a read from the end the sleeping write fills: that end holds bytes, so it cannot sleep
          return this.readCall(n, pair, false, pair.kind === 'pipe' ? 0 : sleeper.end === 0 ? 1 : 0);
        }
        if (choice === 'fd-read' && sleeper !== undefined && (sleeper.op === 'read' || sleeper.op === 'recv')) return this.writeCall(n, pair, false, sleeper.end);
        if (choice === 'fd-write') return this.writeCall(n, pair, canBlock && !busy);
        if (choice === 'fd-read') return this.readCall(n, pair, canBlock && !busy);
        if (choice === 'fd-sleep' && !busy) return this.sleepCall(n, pair);
        if (choice === 'fd-close') return this.closeCall(n, pair);
        return this.ctlCall(n, pair);
      }
    }
  }

  /** Takes in the reference's answer to a step, and to the calls it ended. */
  observe(step: FuzzStep, own: { pending: boolean; ok?: boolean; value?: unknown } | undefined, values: ReadonlyMap<number, unknown>, ended: readonly number[]): void {
    for (const m of ended) {
      const s = this.sleepers.get(m);
      this.sleepers.delete(m);
      if (s !== undefined && values.has(m)) this.apply(s.pair, s.end, s.op, s.flags, values.get(m));
    }
    if (step.kind === 'fork') {
      // the child holds what its parent holds, closed names included
      for (const p of this.pairs) for (const e of p.ends) if (e.open.has(step.by)) e.open.add(step.child);
      this.children.push(step.child);
      this.stale = [];
      return;
    }
    if (step.kind === 'exit') {
      for (const p of this.pairs) for (const e of p.ends) e.open.delete(step.by);
      const i = this.children.indexOf(step.by);
      if (i >= 0) this.children.splice(i, 1); // a closing exit took it out already
      return;
    }
    if (step.kind !== 'call' || own === undefined) return;
    if (step.op === 'pipe' || step.op === 'socketpair') {
      if (own.ok !== true) return;
      const [a, b] = pairNames(step.op, step.n);
      const flags = String(step.args[step.op === 'pipe' ? 0 : 1] ?? '');
      const nb = flags.includes('NONBLOCK');
      const kind = step.op === 'pipe' ? 'pipe' : (flags.split('|')[0] as PairKind);
      const end = (sym: string): End => ({ sym, open: new Set([step.by]), nonblock: nb, queue: [] });
      this.pairs.push({ n: step.n, kind, ends: [end(a), end(b)] });
      this.stale = [];
      return;
    }
    const found = this.endOf(step.args[0]);
    if (found === undefined) return;
    const { pair, end } = found;
    const e = pair.ends[end];
    const flags = step.op === 'send' || step.op === 'recv' ? String(step.args[2] ?? '') : '';
    if (own.pending) {
      this.sleepers.set(step.n, { by: step.by, pair, end, op: step.op, flags });
      return;
    }
    if (own.ok !== true) return;
    if (step.op === 'close') {
      e.open.delete(step.by);
      this.stale.push(`${step.by}:${e.sym}`);
    } else if (step.op === 'fcntl' && step.args[1] === 'F_SETFL') {
      e.nonblock = String(step.args[2]).includes('O_NONBLOCK');
    } else {
      this.apply(pair, end, step.op, flags, own.value);
    }
  }

  /** Steps still needed to end the episode: interrupts, exits, then closes. */
  closingCount(): number {
    const live = (e: End): number => [...e.open].filter((a) => !this.children.includes(a)).length;
    return this.sleepers.size + this.children.length + this.pairs.reduce((k, p) => k + live(p.ends[0]) + live(p.ends[1]), 0);
  }

  /** The next closing step: interrupt what sleeps, then close every end (write ends and sockets first). */
  closingStep(n: number, asleep: (m: number) => boolean): FuzzStep | undefined {
    for (const m of [...this.sleepers.keys()]) {
      // once each: an interrupt without SA_RESTART ends every descriptor call that sleeps
      this.sleepers.delete(m);
      if (asleep(m)) return { kind: 'interrupt', n, target: m };
    }
    // a forked child leaves by exiting, which closes its descriptors
    const child = this.children[0];
    if (child !== undefined) {
      this.children.shift();
      for (const p of this.pairs) for (const e of p.ends) e.open.delete(child);
      return { kind: 'exit', n, by: child };
    }
    for (const p of this.pairs) {
      for (const i of p.kind === 'pipe' ? [1, 0] : [0, 1]) {
        const e = p.ends[i]!;
        const by = e.open.values().next().value;
        if (by === undefined) continue;
        e.open.delete(by);
        return { kind: 'call', n, by, op: 'close', args: ['$' + e.sym] };
      }
    }
    return undefined;
  }

  /** Whether a pending call is one of ours (a descriptor call). */
  owns(m: number): boolean {
    return this.sleepers.has(m);
  }

  private made(n: number, by: string, op: 'pipe' | 'socketpair', args: unknown[]): FuzzStep {
    return { kind: 'call', n, by, op, args };
  }

  private endOf(ref: unknown): { pair: FdPair; end: 0 | 1 } | undefined {
    for (const pair of this.pairs) {
      if (pair.ends[0].sym === String(ref).slice(1)) return { pair, end: 0 };
      if (pair.ends[1].sym === String(ref).slice(1)) return { pair, end: 1 };
    }
    return undefined;
  }

  /** What a successful answer did to the queues: bytes in toward the peer, bytes or a message out. */
  private apply(pair: FdPair, end: 0 | 1, op: string, flags: string, value: unknown): void {
    const peer = pair.kind === 'pipe' ? pair.ends[0] : pair.ends[end === 0 ? 1 : 0];
    const own = pair.ends[end];
    if ((op === 'write' || op === 'send') && typeof value === 'number' && value >= 0) {
      peer.queue.push(value);
    } else if ((op === 'read' || op === 'recv') && !flags.includes('MSG_PEEK')) {
      const data = value instanceof Uint8Array ? value : (value as { data?: unknown } | null)?.data;
      if (!(data instanceof Uint8Array)) return;
      if (pair.kind === 'SOCK_DGRAM' || pair.kind === 'SOCK_SEQPACKET') {
        // a message is taken whole, whatever part of it fitted
        if (data.length > 0 || own.queue[0] === 0) own.queue.shift();
        return;
      }
      let left = data.length;
      while (left > 0 && own.queue.length > 0) {
        const take = Math.min(left, own.queue[0]!);
        own.queue[0]! -= take;
        left -= take;
        if (own.queue[0] === 0) own.queue.shift();
      }
    }
  }

  private queued(e: End): number {
    return e.queue.reduce((a, b) => a + b, 0);
  }

  /** Whether an actor has a call asleep. */
  private sleeping(actor: string): boolean {
    return [...this.sleepers.values()].some((s) => s.by === actor);
  }

  /** A descriptor of the pair for this.by to name: mostly an end it holds, sometimes one it closed (EBADF). */
  private fd(pair: FdPair, prefer: 0 | 1): string {
    const r = this.rng;
    const e = pair.ends[r.chance(0.9) ? prefer : prefer === 0 ? 1 : 0];
    if (e.open.has(this.by) || this.stale.includes(`${this.by}:${e.sym}`)) return '$' + e.sym;
    const open = pair.ends.find((x) => x.open.has(this.by))!;
    return '$' + open.sym;
  }

  /** A write or send; `wake`: the end a read sleeps on, which this write must reach (from its peer). */
  private writeCall(n: number, pair: FdPair, mayBlock: boolean, wake?: 0 | 1): FuzzStep {
    const r = this.rng;
    const side: 0 | 1 = pair.kind === 'pipe' ? 1 : wake !== undefined ? (wake === 0 ? 1 : 0) : r.chance(0.5) ? 0 : 1;
    const fd = this.fd(pair, side);
    const at = this.endOf(fd)!;
    const toward = pair.kind === 'pipe' ? pair.ends[0] : pair.ends[at.end === 0 ? 1 : 0];
    let size: number;
    if (pair.kind === 'pipe') {
      size = r.pick(PIPE_SIZES);
      // A blocking write may sleep where the pipe's pages are full (the page layout is not tracked):
      // only where a call may sleep now, or to wake a sleeping reader (its pipe is empty: small ones).
      if (!mayBlock && !pair.ends[1].nonblock) {
        if (wake === undefined) return this.ctlCall(n, pair);
        size = r.pick([1, 7, 100, 2047, 2049, 4096]);
      }
    } else {
      const room = Math.min(SOCKET_BYTES - this.queued(toward), toward.queue.length >= SOCKET_SENDS ? 0 : SOCKET_BYTES);
      if (room <= 0) return this.readCall(n, pair, mayBlock);
      size = Math.min(room, r.pick([0, 1, 2, 7, 100, 512, 1000, 2047, 4096, 8192]));
    }
    const data = this.opts.data(size);
    if (pair.kind !== 'pipe' && r.chance(0.6)) {
      const flags = r.weighted<string>([['', 50], ['MSG_DONTWAIT', 40], ['MSG_NOSIGNAL', 10]]);
      return { kind: 'call', n, by: this.by, op: 'send', args: flags === '' ? [fd, data] : [fd, data, flags] };
    }
    return { kind: 'call', n, by: this.by, op: 'write', args: [fd, data] };
  }

  /** A read or recv; `full`: the end a sleeping write fills (a read there cannot sleep). */
  private readCall(n: number, pair: FdPair, mayBlock: boolean, full?: 0 | 1): FuzzStep {
    const r = this.rng;
    const side: 0 | 1 = full ?? (pair.kind === 'pipe' ? 0 : r.chance(0.5) ? 0 : 1);
    const fd = this.fd(pair, side);
    const at = this.endOf(fd)!;
    const e = pair.ends[at.end];
    const count = r.pick(READ_COUNTS);
    // A blocking read may sleep unless it reads where a sleeping write fills: only where a call may
    // sleep now (two sleepers on one pair race when one event wakes both). The queues are an
    // estimate, so where no call may sleep a blocking end is not read at all.
    const wouldSleep = !e.nonblock && at.end !== full && (!mayBlock || e.queue.length === 0);
    if (pair.kind !== 'pipe' && r.chance(0.6)) {
      const flags = r.weighted<string>([
        ['', wouldSleep && !mayBlock ? 0 : 25], ['MSG_DONTWAIT', 30], ['MSG_PEEK|MSG_DONTWAIT', 15],
        ['MSG_TRUNC|MSG_DONTWAIT', 12], ['MSG_PEEK|MSG_TRUNC|MSG_DONTWAIT', 5], ['MSG_WAITALL|MSG_DONTWAIT', 5],
      ]);
      return { kind: 'call', n, by: this.by, op: 'recv', args: flags === '' ? [fd, count] : [fd, count, flags] };
    }
    if (wouldSleep && !mayBlock) return this.ctlCall(n, pair);
    return { kind: 'call', n, by: this.by, op: 'read', args: [fd, count] };
  }

  /** A call that sleeps now (the pair is idle): a read of an empty end, or a pipe write that cannot fit. */
  private sleepCall(n: number, pair: FdPair): FuzzStep {
    const r = this.rng;
    if (pair.kind === 'pipe') {
      const w = pair.ends[1];
      if (w.open.has(this.by) && !w.nonblock && r.chance(0.5)) {
        return { kind: 'call', n, by: this.by, op: 'write', args: ['$' + w.sym, this.opts.data(r.pick([65536, 65537, 69632, 131072, 4096]))] };
      }
      return { kind: 'call', n, by: this.by, op: 'read', args: [this.fd(pair, 0), r.pick(READ_COUNTS.filter((c) => c > 0))] };
    }
    const fd = this.fd(pair, r.chance(0.5) ? 0 : 1);
    const flags = r.weighted<string>([['', 60], ['MSG_PEEK', 10], ['MSG_TRUNC', 10], ['MSG_WAITALL', 20]]);
    const count = r.pick([1, 7, 100, 4096]);
    return { kind: 'call', n, by: this.by, op: 'recv', args: flags === '' ? [fd, count] : [fd, count, flags] };
  }

  private closeCall(n: number, pair: FdPair): FuzzStep {
    const open = pair.ends.filter((e) => e.open.has(this.by));
    return { kind: 'call', n, by: this.by, op: 'close', args: ['$' + this.rng.pick(open).sym] };
  }

  private ctlCall(n: number, pair: FdPair): FuzzStep {
    const r = this.rng;
    const fd = this.fd(pair, r.chance(0.5) ? 0 : 1);
    const by = this.by;
    const which = r.weighted<string>([
      ['getfl', 10], ['setfl', 14], ['getsz', 6], ['setsz', pair.kind === 'pipe' ? 10 : 2], ['fionread', 16], ['poll', 16],
      ['shutdown', pair.kind === 'pipe' ? 1 : 10], ['getsockopt', pair.kind === 'pipe' ? 1 : 4],
    ]);
    switch (which) {
      case 'getfl':
        return { kind: 'call', n, by, op: 'fcntl', args: [fd, 'F_GETFL'] };
      case 'setfl':
        return { kind: 'call', n, by, op: 'fcntl', args: [fd, 'F_SETFL', r.weighted<unknown>([['O_NONBLOCK', 50], [0, 40], ['O_NONBLOCK|O_APPEND', 10]])] };
      case 'getsz':
        return { kind: 'call', n, by, op: 'fcntl', args: [fd, 'F_GETPIPE_SZ'] };
      case 'setsz':
        return { kind: 'call', n, by, op: 'fcntl', args: [fd, 'F_SETPIPE_SZ', r.pick(PIPE_SIZES_SET)] };
      case 'fionread':
        return { kind: 'call', n, by, op: 'ioctl', args: [fd, 'FIONREAD'] };
      case 'poll':
        return { kind: 'call', n, by, op: 'poll', args: [fd, r.pick(['POLLIN', 'POLLOUT', 'POLLIN|POLLOUT', 'POLLIN|POLLRDNORM|POLLOUT|POLLWRNORM', 'POLLPRI']), 0] };
      case 'shutdown':
        return { kind: 'call', n, by, op: 'shutdown', args: [fd, r.pick(['SHUT_RD', 'SHUT_WR', 'SHUT_RDWR'])] };
      default:
        return { kind: 'call', n, by, op: 'getsockopt', args: [fd, r.pick(['SO_SNDBUF', 'SO_RCVBUF'])] };
    }
  }

  /** A call on a descriptor number no table holds. */
  private badCall(n: number, by: string): FuzzStep {
    const r = this.rng;
    const fd = r.pick(BAD_FDS);
    return r.weighted<FuzzStep>([
      [{ kind: 'call', n, by, op: 'read', args: [fd, 16] }, 1],
      [{ kind: 'call', n, by, op: 'write', args: [fd, this.opts.data(3)] }, 1],
      [{ kind: 'call', n, by, op: 'close', args: [fd] }, 1],
      [{ kind: 'call', n, by, op: 'fcntl', args: [fd, 'F_GETFL'] }, 1],
      [{ kind: 'call', n, by, op: 'poll', args: [fd, 'POLLIN', 0] }, 1],
      [{ kind: 'call', n, by, op: 'recv', args: [fd, 16, 'MSG_DONTWAIT'] }, 1],
    ]);
  }
}
