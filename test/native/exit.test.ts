/**
 * Pending calls and the end of a process: a call keeps it alive as a pending
 * socket read does, unless started with `ref: false`; an unref'd call never
 * crashes it on the way out nor takes a message that would be lost with it,
 * and a call held out of the kernel when the loop ran dry goes back in if
 * the program carries on. Each case runs in a child node; its exit code and
 * output are the evidence. Also the permission cases, which need a process
 * that is not root.
 */

import { beforeAll, describe, expect, it } from 'vitest';
import { IPC_SET, IPC_STAT } from '../../host/constants.js';
import { runChild, spawned } from './child.js';
import { bytes, ipcsQueues, leakedSince, native, queue, self, titled, track } from './helpers.js';

describe.skipIf(native.unavailable !== undefined)(titled('native calls at process exit'), () => {
  let before: Map<number, unknown>;
  beforeAll(() => {
    before = ipcsQueues();
  });

  it('a top-level await of a receive waits for its message, which comes 300 ms later (no exit code 13)', async () => {
    using q = queue();
    const pending = runChild(`
      const me = openNative().self();
      const q = Number(process.argv[2]);
      const m = await me.msgrcv(q, 8192, 0);
      console.log('got', m.mtype, new TextDecoder().decode(m.data));
    `, { args: [String(q.id)] });
    await new Promise((r) => setTimeout(r, 300));
    self().msgsndSync(q.id, 4, bytes('late'));
    const child = await pending;
    expect(child).toMatchObject({ code: 0, signal: null, stdout: 'got 4 late\n', stderr: '' });
    expect(self().msgctl(q.id, IPC_STAT).msg_qnum).toBe(0);
  });

  it('a pending send holds the process too, until a receive makes room', async () => {
    using q = queue();
    self().msgctl(q.id, IPC_SET, { msg_qbytes: 1 });
    self().msgsndSync(q.id, 1, bytes('x'));
    const pending = runChild(`
      const me = openNative().self();
      const q = Number(process.argv[2]);
      me.msgsnd(q, 2, new TextEncoder().encode('y')).then(() => console.log('sent'));
    `, { args: [String(q.id)] });
    await new Promise((r) => setTimeout(r, 300));
    expect(self().msgrcvSync(q.id, 1, 0).data).toEqual(bytes('x'));
    const child = await pending;
    expect(child).toMatchObject({ code: 0, signal: null, stdout: 'sent\n', stderr: '' });
    expect(self().msgrcvSync(q.id, 1, 0)).toEqual({ mtype: 2, data: bytes('y') });
  });

  it('aborting or timing out the only ref\'d call lets the process exit', async () => {
    using q = queue();
    const child = await runChild(`
      const me = openNative().self();
      const q = Number(process.argv[2]);
      const c = new AbortController();
      // Its long timer (ref'd, as the call is) goes with it once it settles.
      const aborted = me.msgrcv(q, 64, 0, 0, { signal: c.signal, timeout: 2 ** 40 }).catch((e) => console.log(e.code));
      setTimeout(() => c.abort(), 50);
      await aborted;
      await me.msgrcv(q, 64, 0, 0, { timeout: 60 }).catch((e) => console.log(e.code));
    `, { args: [String(q.id)] });
    expect(child).toMatchObject({ code: 0, signal: null, stdout: 'EINTR\nEAGAIN\n', stderr: '' });
    // Nobody is left asleep on the queue: a message sent now stays queued.
    self().msgsndSync(q.id, 1, new Uint8Array(1));
    expect(self().msgctl(q.id, IPC_STAT).msg_qnum).toBe(1);
  });

  it('with ref: false, 10 pending receives let the process exit at once with code 0, and take nothing', async () => {
    using q = queue();
    const child = await runChild(`
      const me = openNative().self();
      const q = Number(process.argv[2]);
      for (let i = 0; i < 10; i++) me.msgrcv(q, 64, 0, 0, { ref: false }).then(() => console.log('unexpected message'));
      await new Promise((r) => setTimeout(r, 50));
      console.log('leaving with', 10, 'pending');
    `, { args: [String(q.id)] });
    expect(child).toMatchObject({ code: 0, signal: null, stdout: 'leaving with 10 pending\n', stderr: '' });
    console.log(`exit with 10 unref'd pending receives: child ran ${child.ms.toFixed(0)} ms in all`);
    // Nobody is left asleep on the queue: a message sent now stays queued.
    self().msgsndSync(q.id, 1, new Uint8Array(1));
    expect(self().msgctl(q.id, IPC_STAT).msg_qnum).toBe(1);
  });

  it('one ref\'d receive holds the process beside unref\'d ones; at exit those take nothing', async () => {
    using q = queue();
    const pending = runChild(`
      const me = openNative().self();
      const q = Number(process.argv[2]);
      for (let i = 0; i < 3; i++) me.msgrcv(q, 64, 2, 0, { ref: false }).then(() => console.log('unexpected message'));
      const m = await me.msgrcv(q, 64, 1);
      console.log('got', m.mtype);
    `, { args: [String(q.id)] });
    await new Promise((r) => setTimeout(r, 300));
    self().msgsndSync(q.id, 1, bytes('one'));
    const child = await pending;
    expect(child).toMatchObject({ code: 0, signal: null, stdout: 'got 1\n', stderr: '' });
    self().msgsndSync(q.id, 2, bytes('two'));
    expect(self().msgctl(q.id, IPC_STAT).msg_qnum).toBe(1);
  });

  it('process.exit() with pending receives and sends exits cleanly too', async () => {
    using q = queue();
    using full = queue();
    self().msgctl(full.id, IPC_SET, { msg_qbytes: 1 });
    self().msgsndSync(full.id, 1, new Uint8Array(1));
    const child = await runChild(`
      const me = openNative().self();
      const [q, full] = process.argv.slice(2).map(Number);
      for (let i = 0; i < 10; i++) me.msgrcv(q, 64, 0);
      for (let i = 0; i < 3; i++) me.msgsnd(full, 1, new Uint8Array(1));
      setInterval(() => {}, 1000);
      setTimeout(() => process.exit(0), 50);
    `, { args: [String(q.id), String(full.id)] });
    expect(child).toMatchObject({ code: 0, signal: null, stderr: '' });
    expect(self().msgctl(full.id, IPC_STAT).msg_qnum).toBe(1);
  });

  it('a receive held when the loop ran dry goes back into the kernel if the program carries on', async () => {
    using q = queue();
    const child = await runChild(`
      const me = openNative().self();
      const q = Number(process.argv[2]);
      me.msgrcv(q, 64, 0, 0, { ref: false }).then((m) => console.log('got', m.mtype, new TextDecoder().decode(m.data)));
      const { readdirSync, readFileSync } = await import('node:fs');
      // Whether a thread of ours sleeps in msgrcv (70) on q.
      const inKernel = () => readdirSync('/proc/self/task').some((tid) => {
        try {
          const call = readFileSync('/proc/self/task/' + tid + '/syscall', 'utf8').split(' ');
          return call[0] === '70' && BigInt(call[1]) === BigInt(q);
        } catch { return false; }
      });
      let once = true;
      process.on('beforeExit', () => {
        if (!once) return;
        once = false;
        // The loop ran dry: the receive is out of the kernel now. Carry on until it is back, and send to it.
        console.log('held', !inKernel());
        const poll = () => {
          if (inKernel()) me.msgsndSync(q, 7, new TextEncoder().encode('late'));
          else setTimeout(poll, 1);
        };
        setTimeout(poll, 1);
      });
    `, { args: [String(q.id)] });
    expect(child).toMatchObject({ code: 0, signal: null, stdout: 'held true\ngot 7 late\n', stderr: '' });
    expect(self().msgctl(q.id, IPC_STAT).msg_qnum).toBe(0);
  });

  it('a worker thread terminated with pending receives takes its threads down cleanly', async () => {
    using q = queue();
    const child = await runChild(`
      import { Worker } from 'node:worker_threads';
      const q = Number(process.argv[2]);
      const code = \`
        import { openNative } from \${JSON.stringify(new URL('./host/native/index.js', import.meta.url).href)};
        import { parentPort } from 'node:worker_threads';
        const me = openNative().self();
        for (let i = 0; i < 5; i++) me.msgrcv(\${q}, 64, 0);
        parentPort.postMessage('waiting');
        setInterval(() => {}, 1000);
      \`;
      const w = new Worker(new URL('data:text/javascript,' + encodeURIComponent(code)));
      await new Promise((r) => w.once('message', r));
      await new Promise((r) => setTimeout(r, 50));
      console.log('terminated with code', await w.terminate());
    `, { args: [String(q.id)] });
    expect(child).toMatchObject({ code: 0, signal: null, stdout: 'terminated with code 1\n', stderr: '' });
  });

  it('as another uid: EACCES and EPERM from the kernel, and IPC_SET on a queue its owner cannot read', async () => {
    using q = queue(self(), 0o600);
    const child = await runChild(`
      const me = openNative().self();
      const q = Number(process.argv[2]);
      const code = (f) => { try { f(); return 'ok'; } catch (e) { return e instanceof IpcError ? e.code : String(e); } };
      const out = {};
      out.rcv = code(() => me.msgrcvSync(q, 8, 0));
      out.snd = code(() => me.msgsndSync(q, 1, new Uint8Array(1)));
      out.stat = code(() => me.msgctl(q, C.IPC_STAT));
      out.rmid = code(() => me.msgctl(q, C.IPC_RMID));
      // Not the owner: the kernel's EPERM, although reading the current values needed MSG_STAT_ANY.
      out.set = code(() => me.msgctl(q, C.IPC_SET, { mode: 0o666 }));
      try { await me.msgrcv(q, 8, 0); } catch (e) { out.rcvAsync = e.code; }
      // Its own queue, write-only: IPC_STAT is refused, yet IPC_SET of one field works.
      const own = me.msgget(C.IPC_PRIVATE, C.IPC_CREAT | 0o200);
      out.own = own;
      out.ownStat = code(() => me.msgctl(own, C.IPC_STAT));
      out.ownSet = code(() => me.msgctl(own, C.IPC_SET, { mode: 0o640 }));
      out.ownMode = me.msgctl(own, C.IPC_STAT).msg_perm.mode;
      out.ownQbytes = me.msgctl(own, C.IPC_STAT).msg_qbytes;
      me.msgctl(own, C.IPC_RMID);
      console.log(JSON.stringify(out));
    `, { uid: 1000, args: [String(q.id)] });
    expect(child.stderr).toBe('');
    expect(child.code).toBe(0);
    const out = JSON.parse(child.stdout) as Record<string, unknown>;
    track(out.own as number);
    expect(out).toMatchObject({
      rcv: 'EACCES', snd: 'EACCES', stat: 'EACCES', rmid: 'EPERM', set: 'EPERM', rcvAsync: 'EACCES',
      ownStat: 'EACCES', ownSet: 'ok', ownMode: 0o640, ownQbytes: 16384,
    });
  });

  it('a cancel signal spent before the thread is in msgrcv is sent again until the call ends', async () => {
    using q = queue();
    // The addon's test hook pauses 30 ms between its cancelled check and msgrcv: an abort
    // 10 ms in interrupts that pause, not msgrcv, and only a resend can end the call.
    const child = await runChild(`
      const me = openNative().self();
      const q = Number(process.argv[2]);
      const keep = setInterval(() => {}, 1000);
      const times = [];
      for (let i = 0; i < 5; i++) {
        const controller = new AbortController();
        const pending = me.msgrcv(q, 8, 0, 0, { signal: controller.signal });
        await new Promise((r) => setTimeout(r, 10));
        const start = performance.now();
        controller.abort();
        const code = await pending.then(() => 'message', (e) => e.code);
        times.push(code + ' ' + (performance.now() - start).toFixed(1));
      }
      clearInterval(keep);
      console.log(times.join(', '));
    `, { args: [String(q.id)], env: { IPCEMU_TEST_ENTRY_DELAY_US: '30000' } });
    expect(child.stderr).toBe('');
    const rounds = child.stdout.trim().split(', ');
    expect(rounds).toHaveLength(5);
    for (const round of rounds) expect(round).toMatch(/^EINTR /);
    console.log(`abort during the pre-syscall window (ms until settled): ${child.stdout.trim()}`);
  });

  it('leaves ipcs -q as it found it (no queue of this file left behind)', () => {
    expect(leakedSince(before, spawned)).toEqual([]);
  });
});
