/**
 * Interop: this process (native backend) and a C or a Python program
 * exchange typed messages over real System V queues. One body runs against
 * each peer (serialport-style); a peer that cannot run here, and a case a
 * peer cannot do, show as skipped with the reason in the title.
 *
 * The peers (interop/msgpeer.c, interop/msgpeer.py) share one protocol,
 * described at the top of each: `serve` answers requests, `send` sends a list
 * of messages once told to go. Sleeping is proven, not hoped for: a call is
 * only raced against once /proc shows it asleep in msgrcv on the queue.
 */

import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MType } from '../../host/api.js';
import { IPC_RMID } from '../../host/constants.js';
import { IpcError } from '../../host/errors.js';
import { MessageQueue, type ReceiveOptions } from '../../host/objects/msg.js';
import { ipcsQueues, leakedSince, native, randomKey, rejectsWith, self, SYS, track, untilSleeping } from './helpers.js';

const HERE = fileURLToPath(new URL('./interop/', import.meta.url));
const PYTHON = '/usr/bin/python3';
/** A bound on every wait for a peer, below vitest's timeout, so `finally` still runs and cleans up. */
const WATCHDOG_MS = 10_000;
/** The largest text the protocol moves (kernel.msgmax's default). */
const TEXT_MAX = 8192;
/** C's LONG_MAX: the largest message type. */
const LONG_MAX = 2n ** 63n - 1n;

/** Cases a peer may be unable to do; its gap table says why. */
type Case = 'long types';

interface Peer {
  readonly name: string;
  /** Why it cannot run here, or undefined. */
  readonly unavailable: string | undefined;
  readonly gaps: Partial<Record<Case, string>>;
  /** Builds what it needs (beforeAll). */
  prepare(): void;
  /** The command line for `msgpeer MODE QREF ARGS...`. */
  command(mode: 'serve' | 'send', queue: Opened, args: string[]): [string, string[]];
  /** The line it prints when its sleeping receive fails because the queue was removed. */
  readonly removedLine: string;
  /** Removes what prepare() made. */
  cleanUp(): void;
}

function commandMissing(file: string, args: string[]): string | undefined {
  const r = spawnSync(file, args, { stdio: 'ignore' });
  return r.error !== undefined ? r.error.message : r.status !== 0 ? `exit ${r.status}` : undefined;
}

function cPeer(): Peer {
  let dir: string | undefined;
  const missing = commandMissing('cc', ['--version']);
  return {
    name: 'a C program (msgpeer.c, built with cc)',
    unavailable: missing === undefined ? undefined : `cc is not usable: ${missing}`,
    gaps: {},
    prepare() {
      dir = mkdtempSync(join(tmpdir(), 'ipcemu-interop-'));
      execFileSync('cc', ['-std=c11', '-O2', '-Wall', '-Wextra', '-Wpedantic', '-Werror', '-o', join(dir, 'msgpeer'), join(HERE, 'msgpeer.c')], { stdio: 'pipe' });
    },
    // By id: the C peer takes either; the Python one can only take the key.
    command: (mode, queue, args) => [join(dir!, 'msgpeer'), [mode, `id=${queue.id}`, ...args]],
    removedLine: 'error msgrcv EIDRM 43',
    cleanUp() {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function pythonPeer(): Peer {
  const missing = commandMissing(PYTHON, ['-c', 'import sysv_ipc']);
  return {
    name: 'a Python program (msgpeer.py, sysv_ipc)',
    unavailable: missing === undefined ? undefined : `${PYTHON} cannot import sysv_ipc (apt-get install python3-sysv-ipc): ${missing}`,
    gaps: {
      'long types': 'sysv_ipc 1.0 takes the type of send() and receive() as a C int (OverflowError past 2^31 - 1)',
    },
    prepare() {},
    command: (mode, queue, args) => [PYTHON, [join(HERE, 'msgpeer.py'), mode, `key=${queue.key}`, ...args]],
    removedLine: 'error receive ExistentialError',
    cleanUp() {},
  };
}

interface Opened {
  queue: MessageQueue;
  key: number;
  id: number;
}

/** Every queue the tests made; afterAll removes any still there. */
const queues = new Set<number>();

/** A new queue under a fresh key (Python opens queues by key only); disposing it removes it. */
function newQueue(): Opened & Disposable {
  for (;;) {
    const key = randomKey();
    let queue: MessageQueue;
    try {
      queue = MessageQueue.open(self(), key, { mode: 'exclusive', perms: 0o600 });
    } catch (error) {
      if (error instanceof IpcError && error.code === 'EEXIST') continue;
      throw error;
    }
    queues.add(track(queue.id));
    return { queue, key, id: queue.id, [Symbol.dispose]: () => queue[Symbol.dispose]() };
  }
}

/** Rejects with `what` unless `promise` settles within `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const watchdog = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within the ${ms} ms watchdog`)), ms);
  });
  try {
    return await Promise.race([promise, watchdog]);
  } finally {
    clearTimeout(timer);
  }
}

/** Every peer started, for the ledger (leakedSince) and the last-resort kill in afterAll. */
const started: PeerRun[] = [];

/** A running peer: its stdout lines, its stdin, its end. */
class PeerRun {
  readonly child: ChildProcess;
  readonly pid: number;
  private readonly lines: string[] = [];
  private cursor = 0;
  private stderr = '';
  private notify: () => void = () => {};
  /** Settles once the child ended and its output was read. */
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private ended = false;

  constructor(readonly label: string, [file, args]: [string, string[]]) {
    this.child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    if (this.child.pid === undefined) throw new Error(`${label}: could not start ${file}`);
    this.pid = this.child.pid;
    started.push(this);
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.lines.push(line);
      this.notify();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (text: string) => (this.stderr += text));
    this.closed = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        this.ended = true;
        this.notify();
        resolve({ code, signal });
      });
    });
  }

  /** The next line it printed, waiting for it. */
  async line(): Promise<string> {
    while (this.cursor >= this.lines.length) {
      if (this.ended) throw new Error(`${this.label} ended without printing another line; stderr: ${this.stderr}`);
      await within(new Promise<void>((resolve) => (this.notify = resolve)), WATCHDOG_MS, `${this.label}: its next line`);
    }
    return this.lines[this.cursor++]!;
  }

  /** Its "ready <pid> <msqid>" line: the queue is open. */
  async ready(): Promise<{ pid: number; id: number }> {
    const line = await this.line();
    const m = /^ready (\d+) (\d+)$/.exec(line);
    if (!m) throw new Error(`${this.label} said ${JSON.stringify(line)} instead of ready; stderr: ${this.stderr}`);
    return { pid: Number(m[1]), id: Number(m[2]) };
  }

  /** Tells a `send` peer to start sending. */
  go(): void {
    this.child.stdin!.end('go\n');
  }

  /** Waits for its end: the exit code and every line it printed after those already read. */
  async finished(): Promise<{ code: number | null; rest: string[]; stderr: string }> {
    const { code } = await within(this.closed, WATCHDOG_MS, `${this.label}: its end`);
    return { code, rest: this.lines.slice(this.cursor), stderr: this.stderr };
  }

  /** Kills it if it still runs (a failed test must not leave it asleep on a queue). */
  async stop(): Promise<void> {
    if (!this.ended) this.child.kill('SIGKILL');
    await this.closed;
  }

  /** Resolves once it sleeps in system call `nr` with `arg0` as first argument (its main thread). */
  async untilSleeping(nr: number, arg0: number): Promise<void> {
    const deadline = Date.now() + WATCHDOG_MS;
    while (!sleepsIn(`/proc/${this.pid}`, nr, arg0)) {
      if (this.ended) throw new Error(`${this.label} ended instead of sleeping in syscall ${nr}; stderr: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`${this.label} did not sleep in syscall ${nr} on ${arg0} within ${WATCHDOG_MS} ms`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

/** Whether the task at `dir` (/proc/<pid> or /proc/self/task/<tid>) sleeps (state S) in syscall `nr` on `arg0`. */
function sleepsIn(dir: string, nr: number, arg0: number): boolean {
  try {
    const stat = readFileSync(`${dir}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    const fields = readFileSync(`${dir}/syscall`, 'utf8').trim().split(' ');
    return state === 'S' && Number(fields[0]) === nr && BigInt(fields[1]!) === BigInt.asUintN(64, BigInt(arg0));
  } catch {
    return false; // the task ended; a caller that cares sees that otherwise
  }
}

/** The thread ids of this process that sleep in syscall `nr` on `arg0`. */
function ourSleepers(nr: number, arg0: number): number[] {
  return readdirSync('/proc/self/task').map(Number).filter((tid) => sleepsIn(`/proc/self/task/${tid}`, nr, arg0));
}

/** Runs `body` with a peer started, and stops the peer whatever happens. */
async function withPeer<T>(peer: Peer, mode: 'serve' | 'send', queue: Opened, args: string[], body: (run: PeerRun) => Promise<T>): Promise<T> {
  const run = new PeerRun(`${peer.name} (${mode})`, peer.command(mode, queue, args));
  try {
    return await body(run);
  } finally {
    await run.stop();
  }
}

/** The bytes a `send` peer puts in a message of type `type`: byte i is (type & 0xff) + 13i, modulo 256. */
function pattern(type: MType, size: number): Uint8Array {
  const seed = Number(BigInt(type) & 0xffn);
  return Uint8Array.from({ length: size }, (_, i) => (seed + 13 * i) & 0xff);
}

/** A `serve` peer's answer: "<pid> <type received> " then the request's bytes reversed. */
function parseAnswer(data: Uint8Array): { pid: number; type: string; text: Uint8Array } {
  const first = data.indexOf(0x20);
  const second = data.indexOf(0x20, first + 1);
  if (first < 0 || second < 0) throw new Error(`not an answer: ${JSON.stringify(new TextDecoder().decode(data))}`);
  const ascii = new TextDecoder().decode(data.subarray(0, second));
  return { pid: Number(ascii.slice(0, first)), type: ascii.slice(first + 1), text: data.subarray(second + 1) };
}

const reversed = (b: Uint8Array) => Uint8Array.from(b).reverse();
const utf8 = (s: string) => new TextEncoder().encode(s);

const PEERS = [cPeer(), pythonPeer()];
const before = native.unavailable === undefined ? ipcsQueues() : new Map<number, unknown>();

afterAll(async () => {
  for (const run of started) await run.stop();
  for (const id of queues) {
    try {
      self().msgctl(id, IPC_RMID);
    } catch (error) {
      if (!(error instanceof IpcError && error.code === 'EINVAL')) throw error;
    }
  }
});

for (const peer of PEERS) {
  const why = native.unavailable !== undefined ? `native backend unavailable: ${native.unavailable}` : peer.unavailable;
  const title = why === undefined ? `interop with ${peer.name}` : `interop with ${peer.name} (skipped: ${why})`;
  const gap = (c: Case, name: string) => (peer.gaps[c] === undefined ? name : `${name} (skipped for this peer: ${peer.gaps[c]})`);

  describe.skipIf(why !== undefined)(title, () => {
    beforeAll(() => peer.prepare());
    afterAll(() => peer.cleanUp());

    it('answers requests Node sends (type 1 in, type 2 out), bytes exact, and leaves other types alone', async () => {
      using q = newQueue();
      // The largest leaves room for the answer's head: a pid of at most 7 digits, the type, two spaces.
      const requests = [new Uint8Array(0), Uint8Array.of(0), Uint8Array.from({ length: 256 }, (_, i) => i), pattern(77, TEXT_MAX - 10)];
      await q.queue.send(3, 'not for the peer');
      const me = self();
      await withPeer(peer, 'serve', q, [String(requests.length)], async (run) => {
        expect(await run.ready()).toEqual({ pid: run.pid, id: q.id });
        // The peer's receive sleeps in the kernel before the first request exists.
        await run.untilSleeping(SYS.msgrcv, q.id);
        for (const r of requests) await q.queue.send(1, r);
        expect(await run.finished()).toMatchObject({ code: 0, rest: ['done'] });
        // Its last operations were a receive then a send.
        expect(q.queue.stat()).toMatchObject({ msg_lspid: run.pid, msg_lrpid: run.pid, msg_qnum: requests.length + 1 });
        for (const r of requests) {
          const answer = await q.queue.receive({ type: 2 });
          expect(answer.type).toBe(2);
          expect(parseAnswer(answer.data)).toEqual({ pid: run.pid, type: '1', text: reversed(r) });
        }
        expect(q.queue.stat()).toMatchObject({ msg_lspid: run.pid, msg_lrpid: me.pid, msg_qnum: 1 });
        expect(await q.queue.receive({ nowait: true })).toEqual({ type: 3, data: utf8('not for the peer') });
      });
    });

    it('sends while Node sleeps in msgrcv; Node selects by type (< 0, MSG_EXCEPT, > 0, 0), bytes exact', async () => {
      using q = newQueue();
      const me = self();
      const specs: [number, number][] = [[5, 1], [3, TEXT_MAX], [7, 0], [2, 1], [9, 64], [3, 0], [1, 8]];
      await withPeer(peer, 'send', q, specs.map(([t, n]) => `${t}:${n}`), async (run) => {
        expect(await run.ready()).toEqual({ pid: run.pid, id: q.id });
        const first = q.queue.receive({ type: -2 });
        await untilSleeping(SYS.msgrcv, q.id, 1);
        const sleepers = ourSleepers(SYS.msgrcv, q.id);
        expect(sleepers).toHaveLength(1);
        const sleeper = sleepers[0];
        run.go();
        // The sleeper gets the first message of type <= 2 sent (ipc/msg.c: pipelined_send()),
        // though a lower type comes later.
        expect(await first).toEqual({ type: 2, data: pattern(2, 1) });
        expect(await run.finished()).toMatchObject({ code: 0, rest: ['done'] });
        // pipelined_send() records the sleeping receiver's thread id (task_pid), not its
        // process id: here the addon thread that slept, not this process's pid.
        expect(sleeper).not.toBe(me.pid);
        expect(q.queue.stat()).toMatchObject({ msg_lspid: run.pid, msg_lrpid: sleeper, msg_qnum: specs.length - 1 });
      });
      const take = async (options: ReceiveOptions, type: number, size: number) =>
        expect(await q.queue.receive({ nowait: true, ...options })).toEqual({ type, data: pattern(type, size) });
      await take({ type: -4 }, 1, 8); // the lowest type <= 4
      await take({ type: -4 }, 3, TEXT_MAX); // then the oldest of type 3
      await take({ type: 3, except: true }, 5, 1); // the oldest of any other type
      await take({ type: 9 }, 9, 64);
      await take({ type: 0 }, 7, 0); // the oldest
      await take({ type: -3 }, 3, 0); // |msgtyp| itself is accepted
      await rejectsWith(q.queue.receive({ nowait: true }), 'ENOMSG');
      // A receive that finds its message queued records the process id (do_msgrcv(): task_tgid).
      expect(q.queue.stat().msg_lrpid).toBe(me.pid);
    });

    it('gets types past 2^31 as the C long Node sent (numbers up to 2^53 - 1, a bigint up to LONG_MAX)', async () => {
      using q = newQueue();
      const types: MType[] = [2 ** 31, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER, LONG_MAX];
      // Queued before the peer starts, so its `receive(type 0)` takes these four, in order, not its answers.
      for (const [i, t] of types.entries()) await q.queue.send(t, `request ${i}`);
      await withPeer(peer, 'serve', q, [String(types.length), '0'], async (run) => {
        expect(await run.ready()).toEqual({ pid: run.pid, id: q.id });
        expect(await run.finished()).toMatchObject({ code: 0, rest: ['done'] });
        for (const [i, t] of types.entries()) {
          const answer = await q.queue.receive({ type: 2, nowait: true });
          expect(parseAnswer(answer.data)).toEqual({ pid: run.pid, type: String(t), text: reversed(utf8(`request ${i}`)) });
        }
      });
    });

    it.skipIf(peer.gaps['long types'] !== undefined)(gap('long types', 'sends and selects types past 2^31; Node reads them as numbers, or bigints past 2^53 - 1'), async () => {
      using q = newQueue();
      const wide = 2 ** 32 + 1;
      await withPeer(peer, 'serve', q, ['1', String(wide), String(LONG_MAX)], async (run) => {
        await run.ready();
        await run.untilSleeping(SYS.msgrcv, q.id);
        // What a cut to 32 bits would turn `wide` into: the peer must leave it.
        await q.queue.send(1, 'decoy');
        await q.queue.send(wide, 'wide');
        const answer = await q.queue.receive({ type: LONG_MAX });
        expect(answer.type).toBe(LONG_MAX);
        expect(parseAnswer(answer.data)).toEqual({ pid: run.pid, type: String(wide), text: reversed(utf8('wide')) });
        expect(await run.finished()).toMatchObject({ code: 0 });
        expect(await q.queue.receive({ nowait: true })).toEqual({ type: 1, data: utf8('decoy') });
      });
      const types: MType[] = [Number.MAX_SAFE_INTEGER, 2 ** 31, LONG_MAX, 2 ** 32 + 1];
      await withPeer(peer, 'send', q, types.map((t) => `${t}:3`), async (run) => {
        await run.ready();
        run.go();
        expect(await run.finished()).toMatchObject({ code: 0, rest: ['done'] });
      });
      const take = async (options: ReceiveOptions, type: MType) => {
        const got = await q.queue.receive({ nowait: true, ...options });
        expect(got).toEqual({ type, data: pattern(type, 3) });
        expect(typeof got.type).toBe(typeof type);
      };
      await take({ type: -(2 ** 32 + 1) }, 2 ** 31);
      await take({ type: LONG_MAX }, LONG_MAX);
      await take({ type: Number.MAX_SAFE_INTEGER, except: true }, 2 ** 32 + 1);
      await take({ type: -LONG_MAX }, Number.MAX_SAFE_INTEGER);
    });

    it('fails the peer\'s sleeping receive when Node removes the queue (IPC_RMID → EIDRM)', async () => {
      using q = newQueue();
      await withPeer(peer, 'serve', q, ['1'], async (run) => {
        await run.ready();
        // Removed before it sleeps, its msgrcv would see EINVAL instead (the id is gone).
        await run.untilSleeping(SYS.msgrcv, q.id);
        q.queue.remove();
        expect(await run.finished()).toMatchObject({ code: 2, rest: [peer.removedLine] });
      });
    });
  });
}

describe.skipIf(native.unavailable !== undefined)('interop ledger', () => {
  it('leaves no queue behind that this file or its peers touched', async () => {
    // Runs after the peer suites (vitest runs a file's suites in order).
    for (const run of started) await run.stop();
    expect(leakedSince(before, started.map((r) => r.pid))).toEqual([]);
  });
});
