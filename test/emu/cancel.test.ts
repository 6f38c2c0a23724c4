/**
 * How a sleeping call ends other than by completing: an AbortSignal (EINTR,
 * the reason as cause), a timeout (EAGAIN) on the emulator's clock, its
 * process's exit (abandoned: never settled). Also fork, and pids.
 */

import { describe, expect, it } from 'vitest';
import type { SimProcess } from '../../host/api.js';
import { IPC_RMID, IPC_SET } from '../../host/constants.js';
import { IpcError } from '../../host/errors.js';
import { emulatorUsage } from '../../host/emu/index.js';
import { BUILDS, cleanUp, expectErrno, expectRejects, kernel, pending, queue, stat, str, text, turn } from './helpers.js';

/** A virtual clock whose time moves only when the test says. */
function virtualClock(start: number) {
  let now = start;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let next = 1;
  return {
    now: () => now,
    setTimer: (ms: number, fn: () => void): unknown => {
      const id = next++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimer: (handle: unknown): void => { timers.delete(handle as number); },
    advance(ms: number): void {
      now += ms;
      for (const [id, t] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
        if (t.at > now) continue;
        timers.delete(id);
        t.fn();
      }
    },
    timers,
  };
}

/**
 * Parks two calls and aborts them: the token table and the completion
 * buffer grow on first use and are kept, so memory is compared after this.
 */
async function warmUp(p: SimProcess, q: number): Promise<void> {
  const controller = new AbortController();
  const calls = [p.msgrcv(q, 1, 77, 0, { signal: controller.signal }), p.msgrcv(q, 1, 78, 0, { signal: controller.signal })];
  await turn();
  controller.abort();
  await Promise.allSettled(calls);
}

describe.each(BUILDS)('cancellation, exit and fork (%s build)', (build) => {
  it('an abort ends a sleeping call with EINTR whose cause is the signal\'s reason; the queue is untouched', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    const controller = new AbortController();
    const waiting = root.msgrcv(q, 64, 0, 0, { signal: controller.signal });
    expect(await pending(waiting)).toBe(true);
    const reason = new Error('stop');
    controller.abort(reason);
    const error = await expectRejects(waiting, 'EINTR');
    expect(error.cause).toBe(reason);
    expect(error.syscall).toBe('msgrcv');
    // the next receiver is served normally
    root.msgsndSync(q, 1, text('next'));
    expect(str(root.msgrcvSync(q, 64, 0).data)).toBe('next');
    cleanUp(k, root, q);
  });

  it('an abort of a sleeping send frees its message and changes nothing else', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    root.msgctl(q, IPC_SET, { msg_qbytes: 1 });
    root.msgsndSync(q, 1, text('x'));
    await warmUp(root, q);
    const before = emulatorUsage(k).bytes;
    const controller = new AbortController();
    const sending = root.msgsnd(q, 2, new Uint8Array(4000), 0, { signal: controller.signal });
    await turn();
    controller.abort();
    await expectRejects(sending, 'EINTR');
    expect(emulatorUsage(k).bytes).toBe(before);
    expect(stat(root, q)).toMatchObject({ msg_qnum: 1, msg_cbytes: 1, msg_lspid: root.pid });
    cleanUp(k, root, q);
  });

  it('an already aborted signal fails the call with EINTR only if it would sleep', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    const signal = AbortSignal.abort(new Error('early'));
    await expectRejects(root.msgrcv(q, 64, 0, 0, { signal }), 'EINTR');
    await root.msgsnd(q, 1, text('a'), 0, { signal });
    expect(str((await root.msgrcv(q, 64, 0, 0, { signal })).data)).toBe('a');
    cleanUp(k, root, q);
  });

  it('an abort after the call completed does nothing; a completed call ignores its timeout', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    const controller = new AbortController();
    const waiting = root.msgrcv(q, 64, 0, 0, { signal: controller.signal, timeout: 60_000 });
    await turn();
    root.msgsndSync(q, 1, text('won'));
    controller.abort();
    expect(str((await waiting).data)).toBe('won');
    cleanUp(k, root, q);
  });

  it('a timeout ends a sleeping call with EAGAIN on the emulator\'s clock; 0 ends it at once if it would sleep', async () => {
    const clock = virtualClock(1_700_000_000_000);
    const { k, root } = await kernel(build, { clock });
    const q = queue(root);
    const waiting = root.msgrcv(q, 64, 5, 0, { timeout: 1000 });
    expect(await pending(waiting)).toBe(true);
    clock.advance(999);
    expect(await pending(waiting)).toBe(true);
    clock.advance(1);
    const error = await expectRejects(waiting, 'EAGAIN');
    expect(error.cause).toBeUndefined();
    await expectRejects(root.msgrcv(q, 64, 0, 0, { timeout: 0 }), 'EAGAIN');
    root.msgsndSync(q, 1, text('x'));
    // a call that need not sleep never looks at its timeout
    expect(str((await root.msgrcv(q, 64, 0, 0, { timeout: 0 })).data)).toBe('x');
    expect(clock.timers.size).toBe(0);
    cleanUp(k, root, q);
  });

  it('timestamps come from the emulator\'s clock, in whole seconds', async () => {
    const clock = virtualClock(1_700_000_000_999);
    const { k, root } = await kernel(build, { clock });
    const q = queue(root);
    expect(stat(root, q).msg_ctime).toBe(1_700_000_000);
    clock.advance(5_000);
    root.msgsndSync(q, 1, text('x'));
    clock.advance(60_000);
    root.msgrcvSync(q, 64, 0);
    clock.advance(1_000);
    root.msgctl(q, IPC_SET, { mode: 0o600 });
    expect(stat(root, q)).toMatchObject({ msg_stime: 1_700_000_005, msg_rtime: 1_700_000_065, msg_ctime: 1_700_000_066 });
    cleanUp(k, root, q);
  });

  it('with the real clock, times are the wall-clock second of the call', async () => {
    const { k, root } = await kernel(build);
    const before = Math.floor(Date.now() / 1000);
    const q = queue(root);
    root.msgsndSync(q, 1, text('x'));
    const after = Math.floor(Date.now() / 1000);
    const s = stat(root, q);
    // the ticker may store a new second a moment after it begins
    for (const t of [s.msg_ctime, s.msg_stime]) {
      expect(t).toBeGreaterThanOrEqual(before - 1);
      expect(t).toBeLessThanOrEqual(after);
    }
    cleanUp(k, root, q);
  });

  it('exit abandons the process\'s sleeping calls (they never settle), frees their messages, and later calls fail with ESRCH', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    root.msgctl(q, IPC_SET, { msg_qbytes: 1 });
    root.msgsndSync(q, 1, text('x'));
    await warmUp(root, q);
    const baseline = emulatorUsage(k).bytes;
    const child = k.spawn();
    const receiving = child.msgrcv(q, 64, 9);
    const sending = child.msgsnd(q, 2, new Uint8Array(100));
    await turn();
    await child.exit();
    expect(emulatorUsage(k)).toMatchObject({ sleeping: 0, pending: 0, bytes: baseline });
    expect(await pending(receiving)).toBe(true);
    expect(await pending(sending)).toBe(true);
    expectErrno(() => child.msgget(0, 0), 'ESRCH');
    expectErrno(() => child.msgrcvSync(q, 64, 0), 'ESRCH');
    await expectRejects(child.msgsnd(q, 1, text('y')), 'ESRCH');
    await expectRejects(child.exit(), 'ESRCH');
    expectErrno(() => child.fork(), 'ESRCH');
    // the abandoned receiver takes nothing: a message of its type is queued for others
    expect(root.msgrcvSync(q, 64, 0).mtype).toBe(1);
    root.msgsndSync(q, 9, text('z'));
    expect(stat(root, q).msg_qnum).toBe(1);
    expect(root.msgrcvSync(q, 64, 0).mtype).toBe(9);
    cleanUp(k, root, q);
  });

  it('several calls of one process may sleep at once (threads); a fork gets a new pid and the same credentials, and not the parent\'s calls', async () => {
    const { k, root } = await kernel(build);
    const parent = k.spawn({ uid: 1234, gid: 567, groups: [89] });
    const q = parent.msgget(0, 0o1600);
    const a = parent.msgrcv(q, 64, 1);
    const b = parent.msgrcv(q, 64, 2);
    await turn();
    const child = parent.fork();
    expect(child.pid).not.toBe(parent.pid);
    expect([child.uid, child.gid]).toEqual([1234, 567]);
    child.msgsndSync(q, 2, text('two'));
    child.msgsndSync(q, 1, text('one'));
    expect(str((await b).data)).toBe('two');
    expect(str((await a).data)).toBe('one');
    expect(stat(child, q)).toMatchObject({ msg_lspid: child.pid, msg_lrpid: parent.pid, msg_perm: { cuid: 1234 } });
    // the child is in group 89 too: a queue of that group is readable by it
    const g = root.msgget(0, 0o1640);
    root.msgctl(g, IPC_SET, { gid: 89 });
    expect(child.msgctl(g, 2).msg_qnum).toBe(0);
    await parent.exit();
    child.msgctl(q, IPC_RMID);
    cleanUp(k, root, g);
  });

  it('pids are small integers in spawn order, never reused in a kernel', async () => {
    const { k, root } = await kernel(build);
    const a = k.spawn();
    const b = a.fork();
    await a.exit();
    const c = k.spawn();
    expect([root.pid, a.pid, b.pid, c.pid]).toEqual([1, 2, 3, 4]);
    const other = await kernel(build);
    expect(other.root.pid).toBe(1);
    cleanUp(k, root);
  });

  it('IpcError carries errno and syscall like a Node system error', async () => {
    const { k, root } = await kernel(build);
    const error = (() => { try { root.msgrcvSync(12345, 1, 0); } catch (e) { return e; } })();
    expect(error).toBeInstanceOf(IpcError);
    expect(error).toMatchObject({ code: 'EINVAL', errno: 22, syscall: 'msgrcv' });
    cleanUp(k, root);
  });
});
