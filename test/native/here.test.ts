/**
 * Calls that sleep on the calling thread (host/native/here.ts over
 * native/here.h): what the conformance agent's main thread makes, so that
 * the kernel sees the actor's main thread (msg_lrpid after a pipelined
 * receive). A call that sleeps stops its thread's event loop, so those cases
 * run in a child node whose worker thread sends, receives or interrupts
 * while the main thread sleeps; the rest run here.
 */

import { beforeAll, describe, expect, it } from 'vitest';
import { IPC_NOWAIT, IPC_SET, IPC_STAT } from '../../host/constants.js';
import { interruptThread, threadId, threadSelf } from '../../host/native/here.js';
import { runChild, spawned } from './child.js';
import { bytes, ipcsQueues, leakedSince, native, queue, rejectsWith, self, titled } from './helpers.js';

/**
 * A child script's prelude: `here` (threadSelf and friends) and `helper(code)`,
 * which runs `code` in a worker thread that has `me` (openNative().self()),
 * `here`, `parentPort` and `sleepsIn(nr, id)` (whether the main thread
 * sleeps in system call nr on that id), and resolves with its first message.
 */
const PRELUDE = `
  import * as here from './host/native/here.js';
  import { Worker } from 'node:worker_threads';
  const root = new URL('./', import.meta.url).href;
  function helper(code) {
    const w = new Worker(new URL('data:text/javascript,' + encodeURIComponent(\`
      import { openNative } from '\${root}host/native/index.js';
      import * as here from '\${root}host/native/here.js';
      import { parentPort } from 'node:worker_threads';
      import { readFileSync } from 'node:fs';
      const me = openNative().self();
      const pid = \${process.pid};
      function sleepsIn(nr, id) {
        const stat = readFileSync('/proc/self/task/' + pid + '/stat', 'utf8');
        const call = readFileSync('/proc/self/task/' + pid + '/syscall', 'utf8').split(' ');
        return stat[stat.lastIndexOf(')') + 2] === 'S' && call[0] === String(nr) && BigInt(call[1]) === BigInt(id);
      }
      async function untilSleeps(nr, id) { while (!sleepsIn(nr, id)) await new Promise((r) => setTimeout(r, 1)); }
      \${code}
    \`)));
    w.unref();
    return w;
  }
`;

describe.skipIf(native.unavailable !== undefined)(titled('native calls on the calling thread'), () => {
  let before: Map<number, unknown>;
  beforeAll(() => {
    before = ipcsQueues();
  });

  it('a receive sleeps on the calling thread; a message pipelined to it leaves the pid in msg_lrpid', async () => {
    using q = queue();
    const child = await runChild(`${PRELUDE}
      const q = Number(process.argv[2]);
      helper(\`await untilSleeps(70, \${q}); me.msgsndSync(\${q}, 5, new TextEncoder().encode('to main'));\`);
      const m = await here.threadSelf().msgrcv(q, 64, 0);
      const ds = openNative().self().msgctl(q, C.IPC_STAT);
      console.log(JSON.stringify({ mtype: m.mtype, text: new TextDecoder().decode(m.data), lrpid: ds.msg_lrpid === process.pid, qnum: ds.msg_qnum, tid: here.threadId() === process.pid }));
    `, { args: [String(q.id)] });
    expect(child).toMatchObject({ code: 0, signal: null, stderr: '' });
    expect(JSON.parse(child.stdout)).toEqual({ mtype: 5, text: 'to main', lrpid: true, qnum: 0, tid: true });
  });

  it('a send sleeps on the calling thread while the queue is full, until a receive makes room', async () => {
    using q = queue();
    self().msgctl(q.id, IPC_SET, { msg_qbytes: 4 });
    self().msgsndSync(q.id, 1, bytes('full'));
    const child = await runChild(`${PRELUDE}
      const q = Number(process.argv[2]);
      helper(\`await untilSleeps(69, \${q}); me.msgrcvSync(\${q}, 4, 0);\`);
      await here.threadSelf().msgsnd(q, 2, new TextEncoder().encode('next'));
      console.log('sent');
    `, { args: [String(q.id)] });
    expect(child).toMatchObject({ code: 0, signal: null, stderr: '', stdout: 'sent\n' });
    expect(self().msgrcvSync(q.id, 4, 0)).toEqual({ mtype: 2, data: bytes('next') });
  });

  it('interruptThread from another thread ends the sleep with EINTR, and leaves the queue as it was', async () => {
    using q = queue();
    const child = await runChild(`${PRELUDE}
      const q = Number(process.argv[2]);
      const w = helper(\`
        parentPort.on('message', async () => {
          await untilSleeps(70, \${q});
          parentPort.postMessage(here.interruptThread(pid));
        });
      \`);
      const found = [];
      const codes = [];
      for (let i = 0; i < 5; i++) {
        const reply = new Promise((r) => w.once('message', r));
        w.postMessage('go');
        codes.push(await here.threadSelf().msgrcv(q, 8, 0).then(() => 'message', (e) => e.code));
        found.push(await reply);
      }
      console.log(JSON.stringify({ codes, found, idle: here.interruptThread(process.pid) }));
      await w.terminate();
    `, { args: [String(q.id)] });
    expect(child).toMatchObject({ code: 0, signal: null, stderr: '' });
    expect(JSON.parse(child.stdout)).toEqual({ codes: Array(5).fill('EINTR'), found: Array(5).fill(true), idle: false });
    expect(self().msgctl(q.id, IPC_STAT)).toMatchObject({ msg_qnum: 0, msg_lrpid: 0 });
  });

  it('an interrupt spent before the thread is in msgrcv is sent again until the call ends', async () => {
    using q = queue();
    // The addon's test hook pauses 30 ms between the interrupted check and msgrcv: an
    // interrupt 10 ms into the call ends that pause, not msgrcv; only a resend ends the call.
    const child = await runChild(`${PRELUDE}
      const q = Number(process.argv[2]);
      const w = helper(\`
        parentPort.on('message', async () => {
          await new Promise((r) => setTimeout(r, 10));
          while (!here.interruptThread(pid)) await new Promise((r) => setTimeout(r, 1));
        });
      \`);
      const rounds = [];
      for (let i = 0; i < 5; i++) {
        w.postMessage('go');
        const start = performance.now();
        const code = await here.threadSelf().msgrcv(q, 8, 0).then(() => 'message', (e) => e.code);
        rounds.push(code + ' ' + (performance.now() - start).toFixed(1));
      }
      console.log(rounds.join(', '));
      await w.terminate();
    `, { args: [String(q.id)], env: { IPCEMU_TEST_ENTRY_DELAY_US: '30000' } });
    expect(child).toMatchObject({ code: 0, signal: null, stderr: '' });
    const rounds = child.stdout.trim().split(', ');
    expect(rounds).toHaveLength(5);
    for (const round of rounds) expect(round).toMatch(/^EINTR /);
    console.log(`interrupt during the pre-syscall window (ms in the call): ${child.stdout.trim()}`);
  });

  it('interruptThread names only a thread that sleeps in such a call; threadId is gettid', () => {
    expect(threadId()).toBe(process.pid);
    expect(interruptThread(process.pid)).toBe(false);
    expect(interruptThread(-1)).toBe(false);
    expect(() => interruptThread(1.5)).toThrow(TypeError);
  });

  it('a call that need not sleep answers at once, with the errors and options of the Process contract', async () => {
    const p = threadSelf();
    using q = queue();
    await p.msgsnd(q.id, 3, bytes('here'));
    expect(await p.msgrcv(q.id, 8, 0)).toEqual({ mtype: 3, data: bytes('here') });
    // A receive that finds its message queued records the process (ipc/msg.c: do_msgrcv(), task_tgid).
    expect(self().msgctl(q.id, IPC_STAT)).toMatchObject({ msg_lspid: process.pid, msg_lrpid: process.pid });
    await rejectsWith(p.msgrcv(q.id, 8, 0, IPC_NOWAIT), 'ENOMSG');
    await rejectsWith(p.msgrcv(-1, 8, 0), 'EINVAL');
    // No timer can run while the thread sleeps: a timeout is refused, not ignored.
    await expect(p.msgrcv(q.id, 8, 0, 0, { timeout: 5 })).rejects.toThrow(TypeError);
    await expect(p.msgsnd(q.id, 1, bytes('x'), 0, { timeout: 5 })).rejects.toThrow(TypeError);
    // An aborted signal fails only a call that would sleep.
    const aborted = AbortSignal.abort('early');
    expect((await rejectsWith(p.msgrcv(q.id, 8, 0, 0, { signal: aborted }), 'EINTR')).cause).toBe('early');
    await p.msgsnd(q.id, 1, bytes('ok'), 0, { signal: aborted });
    expect(await p.msgrcv(q.id, 8, 0, 0, { signal: aborted })).toEqual({ mtype: 1, data: bytes('ok') });
    self().msgctl(q.id, IPC_SET, { msg_qbytes: 1 });
    await p.msgsnd(q.id, 1, bytes('y'));
    expect((await rejectsWith(p.msgsnd(q.id, 1, bytes('z'), 0, { signal: aborted }), 'EINTR')).cause).toBe('early');
    await rejectsWith(p.msgsnd(q.id, 1, bytes('z'), IPC_NOWAIT, { signal: aborted }), 'EAGAIN');
    expect(self().msgctl(q.id, IPC_STAT).msg_qnum).toBe(1);
  });

  it('leaves ipcs -q as it found it (no queue of this file left behind)', () => {
    expect(leakedSince(before, spawned)).toEqual([]);
  });
});
