/**
 * The native conformance driver: actors as real child processes on this
 * machine's kernel. kref's kernel-verified examples that use only message
 * queues, and those on pipes, FIFOs and sockets the brief names, run through
 * the runner, and the driver's own duties are tested directly: credentials,
 * blocked-call detection, interrupt (with and without SA_RESTART), fork
 * with descriptors, exit, death, bounded waits, and close() leaving nothing
 * behind. Everything shows as skipped, with the reason, where the addon is
 * unavailable.
 */

import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Process } from '../../host/api.js';
import {
  AF_UNIX, F_GETFD, F_GETFL, F_SETFL, FIONREAD, IPC_CREAT, IPC_INFO, IPC_NOWAIT, IPC_PRIVATE, IPC_RMID, IPC_STAT, MSG_COPY,
  MSG_STAT_ANY, O_CLOEXEC, O_NONBLOCK, O_RDONLY, O_WRONLY, SOCK_STREAM,
} from '../../host/constants.js';
import { IpcError } from '../../host/errors.js';
import { callStates, signatureOf } from '../../host/conformance/agent-threads.js';
import type { ActorSpec, CallHandle, DriverOptions } from '../../host/conformance/driver.js';
import { NativeDriver, type NativeDriverLimits } from '../../host/conformance/native-driver.js';
import { SUPPORTED_OPS, UnsupportedOp } from '../../host/conformance/ops.js';
import { resultLine } from '../../host/conformance/report.js';
import { loadScenarios, runScenario } from '../../host/conformance/runner.js';

async function nativeHere(): Promise<{ self?: Process; unavailable?: string }> {
  try {
    const { openNative } = await import('../../host/native/index.js');
    return { self: openNative().self() };
  } catch (error) {
    return { unavailable: error instanceof Error ? error.message.split('\n')[0] : String(error) };
  }
}

const native = await nativeHere();
const unavailable = native.unavailable === undefined ? '' : ` (native unavailable: ${native.unavailable})`;
const root = process.getuid?.() === 0;
const text = (s: string) => new TextEncoder().encode(s);

/** A key window like the runner's: 16384 keys from a multiple of 2^14, random so parallel runs do not meet. */
const newKeyBase = () => randomInt(0x100, 0x1ffff) << 14;

/** Queues whose key lies in the window or whose id is listed: what a run must not leave behind. */
function leftovers(keyBase: number, ids: readonly number[]): string[] {
  const self = native.self!;
  const found: string[] = [];
  const highest = self.msgctl(0, IPC_INFO).result;
  for (let index = 0; index <= highest; index++) {
    try {
      const q = self.msgctl(index, MSG_STAT_ANY);
      const k = q.msg_perm.key - keyBase;
      if ((k >= 1 && k <= 9999) || ids.includes(q.result)) found.push(`id ${q.result} key ${q.msg_perm.key}`);
    } catch {
      // an unused index
    }
  }
  return found;
}

/** The msqids and keys `ipcs -q` lists. */
function ipcsQueues(): { keys: Set<number>; ids: Set<number> } {
  const keys = new Set<number>();
  const ids = new Set<number>();
  for (const line of execFileSync('ipcs', ['-q'], { encoding: 'utf8' }).split('\n')) {
    const m = /^(0x[0-9a-f]+)\s+(\d+)\s/.exec(line);
    if (m) {
      keys.add(Number.parseInt(m[1]!, 16) | 0);
      ids.add(Number(m[2]));
    }
  }
  return { keys, ids };
}

function status(pid: number): { uid: number; gid: number; groups: string } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(s)![1]!.trim();
  return { uid: Number(field('Uid').split(/\s+/)[1]), gid: Number(field('Gid').split(/\s+/)[1]), groups: field('Groups') };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether thread `tid` of process `pid` is asleep in msgrcv (70) on queue `q`, read from outside the agent. */
function threadInMsgrcv(pid: number, tid: number | string, q: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const fields = readFileSync(`/proc/${pid}/task/${tid}/syscall`, 'utf8').split(' ');
    return stat[stat.lastIndexOf(')') + 2] === 'S' && fields[0] === '70' && BigInt(fields[1]!) === BigInt(q);
  } catch {
    return false; // the thread ended meanwhile
  }
}

/** Threads of process `pid` that /proc shows asleep in msgrcv on queue `q`. */
function asleepInMsgrcv(pid: number, q: number): number {
  return readdirSync(`/proc/${pid}/task`).filter((tid) => threadInMsgrcv(pid, tid, q)).length;
}

/** Whether thread `tid` of process `pid` is asleep in system call `nr` with `arg0` as first argument. */
function threadIn(pid: number, tid: number | string, nr: number, arg0: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const fields = readFileSync(`/proc/${pid}/task/${tid}/syscall`, 'utf8').split(' ');
    return stat[stat.lastIndexOf(')') + 2] === 'S' && fields[0] === String(nr) && BigInt(fields[1]!) === BigInt(arg0);
  } catch {
    return false; // the thread ended meanwhile
  }
}

/** Threads of process `pid` asleep in read(2) (x86_64: 0) on descriptor `fd`. */
function asleepInRead(pid: number, fd: number): number {
  return readdirSync(`/proc/${pid}/task`).filter((tid) => threadIn(pid, tid, 0, fd)).length;
}

/** Whether process `pid` exists and is not a zombie (a forked actor's reaper is its parent agent, not the runner). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

/** The parent's pid, from /proc/PID/stat. */
function ppid(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** What descriptor `fd` of process `pid` is ("pipe:[123]"), or undefined where it is not open. */
function fdTarget(pid: number, fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/fd/${fd}`);
  } catch {
    return undefined;
  }
}

const str = (v: unknown) => Buffer.from(v as Uint8Array).toString();

interface Run {
  d: NativeDriver;
  options: DriverOptions;
  /** call(), remembering the ids msgget answered. */
  call(actor: string, op: string, args: unknown[]): CallHandle;
  /** The call's value; fails the test on an errno or a fault. */
  value(handle: CallHandle): Promise<unknown>;
}

/** Runs `body` on a started driver, closes it, and checks the run left no queue behind. */
async function withDriver(actors: Record<string, ActorSpec>, body: (run: Run) => Promise<void>, limits?: Partial<NativeDriverLimits>): Promise<void> {
  const d = new NativeDriver(limits);
  // FORMAT.md: a fresh directory per run, mode 0777, removed afterwards (FIFOs live there)
  const dir = mkdtempSync(join(tmpdir(), 'ipcemu-drivertest.'));
  chmodSync(dir, 0o777);
  const options: DriverOptions = { settleMs: 50, keyBase: newKeyBase(), mqPrefix: '/drivertest.', dir };
  const ids: number[] = [];
  const run: Run = {
    d,
    options,
    call(actor, op, args) {
      const h = d.call(actor, op, args);
      if (op === 'msgget') void h.done.then((o) => o.ok && ids.push(o.value as number));
      return h;
    },
    async value(h) {
      const o = await h.done;
      if (!o.ok) throw new Error(`${h.op} failed: ${o.fault ?? `errno ${o.errno}`}`);
      return o.value;
    },
  };
  try {
    await d.start(actors, options);
    await body(run);
  } finally {
    try {
      await d.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(leftovers(options.keyBase, ids)).toEqual([]);
  }
}

const EXAMPLES = '/work/shared/conformance/examples';
/** The examples the brief names, and every message-queue-only one; those whose ops the driver has run. */
const NAMED = ['01', '02', '03', '04', '23', '24', '29', '36', '37'];
/**
 * Examples that check msg_lrpid after a pipelined receive, which Linux sets
 * to the receiving thread (ipc/msg.c: pipelined_send(), task_pid): they pass
 * only if the actor's first call sleeps on its main thread (FORMAT.md).
 */
const MAIN_THREAD = ['02', '21'];

/** The message-queue ops: examples using only these all run here. */
const MSG_OPS: ReadonlySet<string> = new Set(['msgget', 'msgsnd', 'msgrcv', 'msgctl']);

const examples = existsSync(EXAMPLES) ? loadScenarios([EXAMPLES]) : [];
const msgOnly = (file: string) =>
  examples.find((l) => l.file === file)?.scenario?.steps.every((s) => s.kind !== 'call' || MSG_OPS.has(s.op)) ?? false;

describe.skipIf(native.self === undefined || examples.length === 0)(
  `kref's message-queue examples on the native driver${unavailable}${examples.length ? '' : ` (${EXAMPLES} absent)`}`,
  () => {
    const files = examples.map((l) => l.file).filter((f) => NAMED.includes(basename(f).slice(0, 2)) || msgOnly(f));
    for (const file of files) {
      const prefix = basename(file).slice(0, 2);
      const loaded = examples.find((l) => l.file === file)!;
      const lacking = [...new Set(loaded.scenario!.steps.flatMap((s) => (s.kind === 'call' && !SUPPORTED_OPS.has(s.op) ? [s.op] : [])))];
      if (lacking.length > 0) {
        it.skip(`${basename(file)} (operations this driver lacks: ${lacking.join(', ')})`, () => {});
        continue;
      }
      const note = MAIN_THREAD.includes(prefix) ? ' (msg_lrpid after a pipelined receive on the main thread)' : '';
      it(`${basename(file)}${note}`, async () => {
        const keyBase = newKeyBase();
        const r = await runScenario(loaded, () => new NativeDriver(), { keyBase });
        expect(leftovers(keyBase, [])).toEqual([]);
        if (r.status !== 'pass') expect.fail(resultLine(r));
      });
    }
  },
);

/** The pipe, FIFO and socket examples the brief names, including forks and interrupts with SA_RESTART. */
const DESCRIPTOR_EXAMPLES = ['09', '10', '11', '13', '14', '17', '19', '22', '25', '26', '31', '32', '33'];

describe.skipIf(native.self === undefined || examples.length === 0)(
  `kref's pipe, FIFO and socket examples on the native driver${unavailable}${examples.length ? '' : ` (${EXAMPLES} absent)`}`,
  () => {
    for (const prefix of DESCRIPTOR_EXAMPLES) {
      const loaded = examples.find((l) => basename(l.file).startsWith(`${prefix}_`));
      if (loaded === undefined) continue;
      it(basename(loaded.file), async ({ skip }) => {
        const keyBase = newKeyBase();
        const r = await runScenario(loaded, () => new NativeDriver(), { keyBase });
        if (r.status === 'skip') skip(r.reason);
        if (r.status !== 'pass') expect.fail(resultLine(r));
      });
    }
  },
);

describe.skipIf(native.self === undefined)(`agent-threads: matching calls to sleeping threads${unavailable}`, () => {
  it("sees this process's pool thread asleep in msgrcv on the queue, and only there", async () => {
    const self = native.self!;
    const q = self.msgget(IPC_PRIVATE, IPC_CREAT | 0o600);
    const other = self.msgget(IPC_PRIVATE, IPC_CREAT | 0o600);
    try {
      const got = self.msgrcv(q, 64, 0, 0);
      const pending = [
        { id: 1, signature: signatureOf('msgrcv', [q, 64, 0, 0]) },
        { id: 2, signature: signatureOf('msgrcv', [other, 64, 0, 0]) },
        { id: 3, signature: signatureOf('msgctl', [q, IPC_STAT]) },
      ];
      let states = callStates(pending);
      for (let i = 0; i < 500 && states[1] !== 'asleep'; i++) {
        await new Promise((r) => setTimeout(r, 2));
        states = callStates(pending);
      }
      expect(states).toEqual({ 1: 'asleep', 2: 'awake', 3: 'unknown' });
      self.msgsndSync(q, 1, text('x'));
      await got;
      expect(callStates(pending.slice(0, 1))).toEqual({ 1: 'awake' });
    } finally {
      self.msgctl(q, IPC_RMID);
      self.msgctl(other, IPC_RMID);
    }
  });
});

describe.skipIf(native.self === undefined)(`NativeDriver${unavailable}`, () => {
  it.skipIf(!root)(`actors get the scenario's uid/gid and no supplementary groups; a fork keeps its parent's${root ? '' : ' (needs root)'}`, async () => {
    await withDriver({ A: {}, B: { uid: 1000 }, C: { uid: 1001, gid: 1002 } }, async ({ d, call, value }) => {
      expect(status(d.pid('A'))).toEqual({ uid: 0, gid: 0, groups: '' });
      expect(status(d.pid('B'))).toEqual({ uid: 1000, gid: 1000, groups: '' });
      expect(status(d.pid('C'))).toEqual({ uid: 1001, gid: 1002, groups: '' });
      await d.fork('C', 'D');
      expect(d.pid('D')).not.toBe(d.pid('C'));
      expect(status(d.pid('D'))).toEqual({ uid: 1001, gid: 1002, groups: '' });
      await expect(d.fork('A', 'D')).rejects.toThrow(/already exists/);
      // An agent under another uid still reads its own /proc/self/task to report a blocked call.
      const q = (await value(call('B', 'msgget', [IPC_PRIVATE, IPC_CREAT | 0o600]))) as number;
      const r = call('B', 'msgrcv', [q, 64, 0, 0]);
      await d.settle();
      expect(r.outcome).toBeUndefined();
      expect(asleepInMsgrcv(d.pid('B'), q)).toBe(1);
    }, { settleMs: 1000 });
  });

  it('data bytes and 64-bit mtypes cross the channel both ways', async () => {
    await withDriver({ A: {}, B: {} }, async ({ call, value }) => {
      const q = (await value(call('A', 'msgget', [IPC_PRIVATE, IPC_CREAT | 0o600]))) as number;
      const big = 2n ** 62n + 1n;
      const bytes = new Uint8Array([0, 255, 0, 10]);
      expect(await value(call('A', 'msgsnd', [q, big, bytes, 0]))).toBe(0);
      const got = (await value(call('B', 'msgrcv', [q, 64, -big, IPC_NOWAIT]))) as { mtype: unknown; data: Uint8Array };
      expect(got.mtype).toBe(big);
      expect([...got.data]).toEqual([...bytes]);
      await value(call('A', 'msgctl', [q, IPC_RMID]));
    });
  });

  it('a blocked call is seen asleep in msgrcv while its actor goes on making calls, like another thread', async () => {
    await withDriver({ A: {}, B: {} }, async ({ d, call, value }) => {
      const q = (await value(call('A', 'msgget', [IPC_PRIVATE, IPC_CREAT | 0o600]))) as number;
      const one = call('A', 'msgrcv', [q, 64, 1, 0]);
      await d.settle();
      expect(one.outcome).toBeUndefined();
      expect(asleepInMsgrcv(d.pid('A'), q)).toBe(1);
      expect(await value(call('A', 'msgctl', [q, IPC_STAT]))).toMatchObject({ msg_qnum: 0 });
      const two = call('A', 'msgrcv', [q, 64, 2, 0]);
      await d.settle();
      expect([one.outcome, two.outcome]).toEqual([undefined, undefined]);
      expect(asleepInMsgrcv(d.pid('A'), q)).toBe(2);
      await value(call('B', 'msgsnd', [q, 2, text('two'), 0]));
      await d.settle();
      expect(one.outcome).toBeUndefined();
      expect(await value(two)).toEqual({ mtype: 2, data: text('two') });
      await value(call('B', 'msgsnd', [q, 1, text('one'), 0]));
      expect(await value(one)).toEqual({ mtype: 1, data: text('one') });
    });
  });

  it("an actor's call sleeps on its main thread while that is free, else on another thread, and msg_lrpid tells which", async () => {
    await withDriver({ A: {}, B: {} }, async ({ d, call, value }) => {
      const q = (await value(call('B', 'msgget', [IPC_PRIVATE, IPC_CREAT | 0o600]))) as number;
      const pid = d.pid('A');
      const first = call('A', 'msgrcv', [q, 64, 1, 0]);
      await d.settle();
      // The main thread's id is the process id.
      expect(threadInMsgrcv(pid, pid, q)).toBe(true);
      const second = call('A', 'msgrcv', [q, 64, 2, 0]);
      await d.settle();
      expect(asleepInMsgrcv(pid, q)).toBe(2);
      // Pipelined to the second call's thread (ipc/msg.c: pipelined_send(), task_pid): a thread of A, not A's pid.
      await value(call('B', 'msgsnd', [q, 2, text('two'), 0]));
      expect(await value(second)).toEqual({ mtype: 2, data: text('two') });
      const other = ((await value(call('B', 'msgctl', [q, IPC_STAT]))) as { msg_lrpid: number }).msg_lrpid;
      expect(other).not.toBe(pid);
      expect(existsSync(`/proc/${pid}/task/${other}`)).toBe(true);
      // Pipelined to the main thread: A's pid, as a single-threaded C program leaves it.
      await value(call('B', 'msgsnd', [q, 1, text('one'), 0]));
      expect(await value(first)).toEqual({ mtype: 1, data: text('one') });
      expect(await value(call('B', 'msgctl', [q, IPC_STAT]))).toMatchObject({ msg_lrpid: pid, msg_qnum: 0 });
      // The main thread is free again: the next call sleeps there.
      const third = call('A', 'msgrcv', [q, 64, 3, 0]);
      await d.settle();
      expect(threadInMsgrcv(pid, pid, q)).toBe(true);
      await d.interrupt(third, false);
      expect(await third.done).toEqual({ ok: false, errno: 4 });
    });
  });

  it('interrupt ends a blocked msgrcv with EINTR, restart or not; interrupting an answered call is an error', async () => {
    await withDriver({ A: {} }, async ({ d, call, value }) => {
      const q = (await value(call('A', 'msgget', [IPC_PRIVATE, IPC_CREAT | 0o600]))) as number;
      for (const restart of [true, false]) {
        const r = call('A', 'msgrcv', [q, 64, 0, 0]);
        await d.settle();
        expect(r.outcome).toBeUndefined();
        await d.interrupt(r, restart);
        await d.settle();
        expect(r.outcome).toEqual({ ok: false, errno: 4 });
        await expect(d.interrupt(r, restart)).rejects.toThrow(/already answered/);
      }
      expect(await value(call('A', 'msgctl', [q, IPC_STAT]))).toMatchObject({ msg_lrpid: 0, msg_rtime: 0 });
    });
  });

  it('exit: the step ends with the process reaped; its pending calls (main thread and pool) are abandoned and take nothing', async () => {
    await withDriver({ A: {}, B: {} }, async ({ d, call, value }) => {
      const q = (await value(call('B', 'msgget', [IPC_PRIVATE, IPC_CREAT | 0o600]))) as number;
      const r = call('A', 'msgrcv', [q, 64, 0, 0]);
      const r2 = call('A', 'msgrcv', [q, 64, 0, 0]);
      await d.settle();
      const pid = d.pid('A');
      expect(asleepInMsgrcv(pid, q)).toBe(2);
      await d.exit('A');
      expect(alive(pid)).toBe(false);
      expect(d.pid('A')).toBe(pid);
      await d.settle();
      expect([r.outcome, r2.outcome]).toEqual([undefined, undefined]);
      expect(() => d.call('A', 'msgctl', [q, IPC_STAT])).toThrow(/has exited/);
      await expect(d.exit('A')).rejects.toThrow(/already exited/);
      await value(call('B', 'msgsnd', [q, 1, text('kept'), 0]));
      expect(await value(call('B', 'msgctl', [q, IPC_STAT]))).toMatchObject({ msg_qnum: 1, msg_lrpid: 0 });
    });
  });

  it('an actor that dies unexpectedly fails its pending calls and the run with the reason', async () => {
    await withDriver({ A: {}, B: {} }, async ({ d, call, value }) => {
      const q = (await value(call('B', 'msgget', [IPC_PRIVATE, IPC_CREAT | 0o600]))) as number;
      const r = call('A', 'msgrcv', [q, 64, 0, 0]);
      await d.settle();
      process.kill(d.pid('A'), 'SIGKILL');
      expect(await r.done).toMatchObject({ ok: false, fault: expect.stringMatching(/actor A died unexpectedly.*SIGKILL/) });
      await expect(d.settle()).rejects.toThrow(/actor A died unexpectedly/);
      expect(() => d.call('B', 'msgctl', [q, IPC_STAT])).toThrow(/actor A died unexpectedly/);
    });
  });

  it('waits are bounded: a stopped actor fails settle() instead of hanging it, and close() still ends it', async () => {
    let pid = 0;
    await withDriver({ A: {} }, async ({ d, call }) => {
      pid = d.pid('A');
      process.kill(pid, 'SIGSTOP');
      call('A', 'msgget', [IPC_PRIVATE, IPC_CREAT | 0o600]);
      await expect(d.settle()).rejects.toThrow(/did not answer probe within 300 ms/);
    }, { answerMs: 300, settleMs: 300 });
    expect(alive(pid)).toBe(false);
  });

  it('fork passes the open scenario descriptors at the same numbers, sharing their open file descriptions; the child is the parent\'s', async () => {
    await withDriver({ A: {} }, async ({ d, call, value }) => {
      const [r, w] = (await value(call('A', 'pipe', [0]))) as [number, number];
      const [x, y] = (await value(call('A', 'pipe', [O_CLOEXEC]))) as [number, number];
      expect(await value(call('A', 'close', [y]))).toBe(0);
      await d.fork('A', 'B');
      const a = d.pid('A');
      const b = d.pid('B');
      expect(b).not.toBe(a);
      expect(ppid(b)).toBe(a);
      for (const fd of [r, w, x]) {
        expect(fdTarget(b, fd)).toMatch(/^pipe:\[\d+\]$/);
        expect(fdTarget(b, fd)).toBe(fdTarget(a, fd));
      }
      // A closed end is not passed (its number may hold one of the child's own descriptors).
      expect(fdTarget(b, y)).not.toBe(fdTarget(a, x));
      // O_NONBLOCK belongs to the open file description: set in one process, seen in the other.
      expect(await value(call('B', 'fcntl', [r, F_SETFL, O_NONBLOCK]))).toBe(0);
      expect(await value(call('A', 'fcntl', [r, F_GETFL]))).toBe(O_RDONLY | O_NONBLOCK);
      // FD_CLOEXEC belongs to the descriptor, and fork keeps it.
      expect(await value(call('B', 'fcntl', [x, F_GETFD]))).toBe(1);
      expect(await value(call('B', 'fcntl', [r, F_GETFD]))).toBe(0);
      // The pipe has two writers now: A's close is not the last one.
      expect(await value(call('A', 'close', [w]))).toBe(0);
      expect(await value(call('B', 'write', [w, text('hi')]))).toBe(2);
      expect(await value(call('A', 'ioctl', [r, FIONREAD]))).toBe(2);
      expect(str(await value(call('A', 'read', [r, 16])))).toBe('hi');
      // B's exit closes its descriptors: no writer is left, and A reads end of file.
      await d.exit('B');
      expect(running(b)).toBe(false);
      expect(str(await value(call('A', 'read', [r, 16])))).toBe('');
    });
  });

  it('a fork leaves a call asleep in the parent to the parent; the child, a grandchild of the runner, can end it', async () => {
    await withDriver({ A: {} }, async ({ d, call, value }) => {
      const [r, w] = (await value(call('A', 'socketpair', [AF_UNIX, SOCK_STREAM, 0]))) as [number, number];
      const rd = call('A', 'recv', [r, 16, 0]);
      await d.settle();
      expect(rd.outcome).toBeUndefined();
      await d.fork('A', 'B');
      await d.fork('B', 'C');
      expect(ppid(d.pid('C'))).toBe(d.pid('B'));
      expect(ppid(d.pid('B'))).toBe(d.pid('A'));
      await d.settle();
      expect(rd.outcome).toBeUndefined();
      expect(await value(call('C', 'send', [w, text('from C'), 0]))).toBe(6);
      expect(str(await value(rd))).toBe('from C');
    });
  });

  it('interrupt with restart: a pipe read that has moved nothing goes back to sleep, on the main thread and on another; without, EINTR', async () => {
    await withDriver({ A: {} }, async ({ d, call, value }) => {
      const [r, w] = (await value(call('A', 'pipe', [0]))) as [number, number];
      const pid = d.pid('A');
      const onMain = call('A', 'read', [r, 16]);
      const onPool = call('A', 'read', [r, 16]);
      await d.settle();
      expect(threadIn(pid, pid, 0, r)).toBe(true);
      expect(asleepInRead(pid, r)).toBe(2);
      await d.interrupt(onMain, true);
      await d.interrupt(onPool, true);
      await d.settle();
      expect([onMain.outcome, onPool.outcome]).toEqual([undefined, undefined]);
      expect(threadIn(pid, pid, 0, r)).toBe(true);
      expect(asleepInRead(pid, r)).toBe(2);
      // The main thread's call takes another signal: each interrupt is one tgkill to that thread.
      await d.interrupt(onMain, false);
      expect(await onMain.done).toEqual({ ok: false, errno: 4 });
      expect(await value(call('A', 'write', [w, text('x')]))).toBe(1);
      expect(str(await value(onPool))).toBe('x');
      // A write interrupted after moving bytes returns their count, restart or not.
      const wr = call('A', 'write', [w, new Uint8Array(70000)]);
      await d.settle();
      expect(wr.outcome).toBeUndefined();
      await d.interrupt(wr, true);
      expect(await value(wr)).toBe(65536);
    });
  });

  it('a forked actor that dies unexpectedly fails the run; close() ends forks before their parents and leaves no process', async () => {
    const pids: number[] = [];
    await withDriver({ A: {} }, async ({ d, call, value }) => {
      const [r] = (await value(call('A', 'pipe', [0]))) as [number, number];
      await d.fork('A', 'B');
      await d.fork('B', 'C');
      await d.fork('A', 'D');
      const rc = call('C', 'read', [r, 16]);
      const rd = call('D', 'read', [r, 16]);
      await d.settle();
      expect([rc.outcome, rd.outcome]).toEqual([undefined, undefined]);
      pids.push(...['A', 'B', 'C', 'D'].map((a) => d.pid(a)));
      process.kill(d.pid('D'), 'SIGKILL');
      // (its parent agent may reap it before the driver sees how it ended)
      expect(await rd.done).toMatchObject({ ok: false, fault: expect.stringMatching(/actor D died unexpectedly \(pid \d+, (killed by SIGKILL|ended)/) });
      await expect(d.settle()).rejects.toThrow(/actor D died unexpectedly/);
    });
    // Gone, not zombies: each fork was reaped by its parent agent, the first actor by the runner.
    expect(pids.filter((pid) => existsSync(`/proc/${pid}`))).toEqual([]);
  });

  it('a blocked FIFO open sleeps in openat, and interrupt with restart leaves it waiting for its partner', async () => {
    await withDriver({ A: {}, B: {} }, async ({ d, options, call, value }) => {
      const path = join(options.dir, 'f');
      expect(await value(call('A', 'mkfifo', [path, 0o600]))).toBe(0);
      const open = call('A', 'open', [path, O_RDONLY, 0o666]);
      await d.settle();
      expect(open.outcome).toBeUndefined();
      await d.interrupt(open, true);
      await d.settle();
      expect(open.outcome).toBeUndefined();
      const wfd = (await value(call('B', 'open', [path, O_WRONLY, 0o666]))) as number;
      expect(typeof (await value(open))).toBe('number');
      expect(await value(call('B', 'write', [wfd, text('x')]))).toBe(1);
    });
  });

  it("close() kills every actor and removes the run's queues: its ids, and any queue in its key window", async () => {
    const self = native.self!;
    const outside: number[] = [];
    const pids: number[] = [];
    let run: { keyBase: number; ids: number[] } = { keyBase: 0, ids: [] };
    try {
      await withDriver({ A: {}, B: root ? { uid: 1000 } : {} }, async ({ d, options, call, value }) => {
        const keyBase = options.keyBase;
        const ids = [
          (await value(call('A', 'msgget', [keyBase + 7, IPC_CREAT | 0o600]))) as number,
          (await value(call('A', 'msgget', [IPC_PRIVATE, IPC_CREAT | 0o600]))) as number,
          (await value(call('B', 'msgget', [keyBase + 9999, IPC_CREAT | 0o600]))) as number,
          // As if an agent died before its answer arrived: only the key window finds it.
          self.msgget(keyBase + 8, IPC_CREAT | 0o600),
        ];
        outside.push(self.msgget(keyBase + 10000, IPC_CREAT | 0o600), self.msgget(keyBase, IPC_CREAT | 0o600));
        call('B', 'msgrcv', [ids[2], 64, 0, 0]);
        await d.settle();
        pids.push(d.pid('A'), d.pid('B'));
        run = { keyBase, ids };
      });
      const { keys, ids } = ipcsQueues();
      expect(run.ids.filter((id) => ids.has(id))).toEqual([]);
      expect([7, 8, 9999].map((k) => run.keyBase + k).filter((k) => keys.has(k))).toEqual([]);
      expect(outside.every((id) => ids.has(id))).toBe(true);
      expect(pids.filter(alive)).toEqual([]);
    } finally {
      for (const id of outside) self.msgctl(id, IPC_RMID);
    }
  });

  it('an operation the backend lacks throws UnsupportedOp from call()', async () => {
    await withDriver({ A: {} }, async ({ d }) => {
      const lacking = ['shmget', 'pipe', 'mq_open'].find((op) => !SUPPORTED_OPS.has(op))!;
      expect(lacking).toBeDefined();
      expect(() => d.call('A', lacking, [])).toThrow(UnsupportedOp);
      expect(() => d.call('Z', 'msgget', [IPC_PRIVATE, 0])).toThrow(/no actor named Z/);
    });
  });

  it('probe() answers msg_copy as the kernel answers MSG_COPY, and leaves other words to the runner', async () => {
    const self = native.self!;
    const q = self.msgget(IPC_PRIVATE, IPC_CREAT | 0o600);
    let kernel: boolean;
    try {
      self.msgrcvSync(q, 1, 0, MSG_COPY);
      kernel = true;
    } catch (error) {
      kernel = (error as IpcError).code === 'ENOMSG';
    } finally {
      self.msgctl(q, IPC_RMID);
    }
    const d = new NativeDriver();
    expect(await d.probe('msg_copy')).toBe(kernel);
    expect(await d.probe('root')).toBeUndefined();
    await d.close();
  });
});
