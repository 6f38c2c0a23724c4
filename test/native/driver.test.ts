/**
 * The native conformance driver: actors as real child processes on this
 * machine's kernel. kref's kernel-verified examples that use only message
 * queues run through the runner, and the driver's own duties are tested
 * directly: credentials, blocked-call detection, interrupt, exit, death,
 * bounded waits, and close() leaving nothing behind. Everything shows as
 * skipped, with the reason, where the addon is unavailable.
 */

import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Process } from '../../host/api.js';
import { IPC_CREAT, IPC_INFO, IPC_NOWAIT, IPC_PRIVATE, IPC_RMID, IPC_STAT, MSG_COPY, MSG_STAT_ANY } from '../../host/constants.js';
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
  const options: DriverOptions = { settleMs: 50, keyBase: newKeyBase(), mqPrefix: '/drivertest.', dir: tmpdir() };
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
    await d.close();
    expect(leftovers(options.keyBase, ids)).toEqual([]);
  }
}

const EXAMPLES = '/work/shared/conformance/examples';
/** The examples the brief names; those using only message-queue ops run. */
const NAMED = ['01', '02', '03', '04', '23', '24', '29', '36', '37'];
/**
 * Examples that check msg_lrpid after a pipelined receive, which Linux sets
 * to the receiving thread (ipc/msg.c: pipelined_send(), task_pid): they pass
 * only if the actor's first call sleeps on its main thread (FORMAT.md).
 */
const MAIN_THREAD = ['02', '21'];

/** This file drives message queues; other kinds' examples run in their own tests. */
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
      if (!msgOnly(file)) {
        const ops = [...new Set(loaded.scenario!.steps.flatMap((s) => (s.kind === 'call' && !MSG_OPS.has(s.op) ? [s.op] : [])))];
        it.skip(`${basename(file)} (not message queues only: ${ops.join(', ')})`, () => {});
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
