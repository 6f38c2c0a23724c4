/**
 * FIFOs on the native backend: checklist section F as the real kernel
 * answers it; a blocking open sleeps on the pool, not the event loop, and is
 * cancellable (EINTR, or restarted with SA_RESTART); the sync forms on a
 * FIFO (no FMODE_NOWAIT there, native/pipe.h) still never sleep and never
 * touch O_NONBLOCK; the calling-thread forms of the conformance agent's main
 * thread, ended by interruptThread(tid, restart). Every FIFO lives in a
 * temporary directory removed at the end.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { F_GETFL, FIONREAD, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY } from '../../host/constants.js';
import { runChild } from './child.js';
import { openFds, untilAnySleeping } from './fd-helpers.js';
import { bytes, native, rejectsWith, self, throwsWith, titled } from './helpers.js';

const NR = { open: 2, openat: 257, read: 0 } as const;

describe.skipIf(native.unavailable !== undefined)(titled('native FIFOs'), () => {
  let dir: string;
  let before: Set<string>;
  let n = 0;
  const fresh = (mode = 0o600) => {
    const path = join(dir, `f${n++}`);
    self().mkfifo(path, mode);
    return path;
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ipcemu-fifo-'));
    before = openFds();
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    expect([...openFds()].filter((fd) => !before.has(fd))).toEqual([]);
  });

  it('mkfifo makes a FIFO (stat), its mode less the umask; EEXIST, ENOENT; unlink', () => {
    const p = self();
    const path = fresh(0o666);
    const umask = process.umask();
    expect(p.stat(path)).toEqual({ type: 'fifo', mode: 0o666 & ~umask });
    expect(p.stat(dir).type).toBe('dir');
    throwsWith(() => p.mkfifo(path), 'EEXIST');
    throwsWith(() => p.mkfifo(join(dir, 'no', 'such')), 'ENOENT');
    p.unlink(path);
    throwsWith(() => p.stat(path), 'ENOENT');
    throwsWith(() => p.unlink(path), 'ENOENT');
    expect(() => p.stat('a\0b')).toThrow(TypeError);
  });

  it('O_NONBLOCK opens: read-only succeeds alone, write-only without a reader is ENXIO; O_RDWR never blocks', async () => {
    const p = self();
    const path = fresh();
    await rejectsWith(p.open(path, O_WRONLY | O_NONBLOCK), 'ENXIO');
    const r = await p.open(path, O_RDONLY | O_NONBLOCK);
    const w = await p.open(path, O_WRONLY | O_NONBLOCK);
    p.close(w);
    p.close(r);
    const both = await p.open(path, O_RDWR);
    expect(p.fcntl(both, F_GETFL) & 3).toBe(O_RDWR);
    p.close(both);
    await rejectsWith(p.open(join(dir, 'missing'), O_RDONLY), 'ENOENT');
  });

  it('a blocking open waits for its partner on the pool while the event loop runs', async () => {
    const p = self();
    const path = fresh();
    const reader = p.open(path, O_RDONLY);
    await untilAnySleeping(NR.openat);
    let ticks = 0;
    await new Promise((r) => setTimeout(r, 5)).then(() => ticks++);
    expect(ticks).toBe(1);
    // The sleeping reader counts as one (fs/pipe.c: fifo_open), so this succeeds and wakes it.
    const w = await p.open(path, O_WRONLY | O_NONBLOCK);
    const r = await reader;
    // Item 152: open adds O_LARGEFILE on 64-bit.
    expect(p.fcntl(r, F_GETFL) & 0o100000).toBe(0o100000);
    p.writeSync(w, bytes('via fifo'));
    expect(new TextDecoder().decode(await p.read(r, 100))).toBe('via fifo');
    p.close(w);
    expect((await p.read(r, 100)).length).toBe(0);
    p.close(r);
  });

  it('an aborted blocking open fails with EINTR; with restart it sleeps on and opens', async () => {
    const p = self();
    const path = fresh();
    const ac = new AbortController();
    const first = p.open(path, O_WRONLY, 0, { signal: ac.signal });
    await untilAnySleeping(NR.openat);
    ac.abort();
    await rejectsWith(first, 'EINTR');

    const again = new AbortController();
    const second = p.open(path, O_WRONLY, 0, { signal: again.signal });
    await untilAnySleeping(NR.openat);
    again.abort({ restart: true });
    await untilAnySleeping(NR.openat);
    const r = await p.open(path, O_RDONLY | O_NONBLOCK);
    const w = await second;
    p.close(w);
    p.close(r);
    await rejectsWith(p.open(path, O_WRONLY, 0, { timeout: 1 }), 'EAGAIN');
    const gone = new AbortController();
    gone.abort();
    await rejectsWith(p.open(path, O_RDONLY, 0, { signal: gone.signal }), 'EINTR');
  });

  it('sync forms on a FIFO never sleep and leave O_NONBLOCK alone; data goes when the last fd closes', async () => {
    const p = self();
    const path = fresh();
    const r = await p.open(path, O_RDONLY | O_NONBLOCK);
    const w = await p.open(path, O_WRONLY);
    p.fcntl(r, 4 /* F_SETFL */, 0);
    const flags = [p.fcntl(r, F_GETFL), p.fcntl(w, F_GETFL)];
    throwsWith(() => p.readSync(r, 10), 'EAGAIN');
    throwsWith(() => p.readSync(w, 10), 'EBADF');
    throwsWith(() => p.writeSync(r, bytes('x')), 'EBADF');
    expect(p.writeSync(w, bytes('abc'))).toBe(3);
    expect(new TextDecoder().decode(p.readSync(r, 2))).toBe('ab');
    const into = new Uint8Array(4);
    expect(p.readInto(r, into)).toBe(1);
    // Full: 65536 fits (16 pages), the next byte would sleep.
    expect(p.writeSync(w, new Uint8Array(65536 + 4096))).toBe(65536);
    throwsWith(() => p.writeSync(w, new Uint8Array(4096)), 'EAGAIN');
    expect([p.fcntl(r, F_GETFL), p.fcntl(w, F_GETFL)]).toEqual(flags);
    expect(p.ioctl(r, FIONREAD)).toBe(65536);
    p.close(w);
    p.close(r);
    // fs/pipe.c: put_pipe_info frees the buffer with the last descriptor.
    const rw = await p.open(path, O_RDWR);
    expect(p.ioctl(rw, FIONREAD)).toBe(0);
    throwsWith(() => p.readSync(rw, 1), 'EAGAIN');
    p.writeSync(rw, bytes('me'));
    expect(new TextDecoder().decode(p.readSync(rw, 10))).toBe('me');
    p.close(rw);
  });

  it('calling-thread forms: interruptThread(tid) gives EINTR, interruptThread(tid, true) restarts the read', async () => {
    const path = fresh();
    const child = await runChild(`
      import * as here from './host/native/here.js';
      import { Worker } from 'node:worker_threads';
      const path = process.argv[2];
      const me = here.threadSelf();
      const tid = here.threadId();
      const hereUrl = new URL('./host/native/here.js', import.meta.url).href;
      const indexUrl = new URL('./host/native/index.js', import.meta.url).href;
      // A helper thread: waits until the main thread sleeps in read (nr 0),
      // interrupts it (with restart or not), and after a restart writes.
      function helper(restart, w) {
        const code = [
          'import { interruptThread } from ' + JSON.stringify(hereUrl) + ';',
          'import { openNative } from ' + JSON.stringify(indexUrl) + ';',
          "import { readFileSync } from 'node:fs';",
          'const tid = ' + tid + ';',
          "const sleeps = () => { const s = readFileSync('/proc/self/task/' + tid + '/stat', 'utf8'); const c = readFileSync('/proc/self/task/' + tid + '/syscall', 'utf8').split(' '); return s[s.lastIndexOf(')') + 2] === 'S' && c[0] === '0'; };",
          'while (!sleeps()) await new Promise((r) => setTimeout(r, 1));',
          'interruptThread(tid, ' + restart + ');',
          restart ? "await new Promise((r) => setTimeout(r, 20)); openNative().self().writeSync(" + w + ", new TextEncoder().encode('restarted'));" : '',
        ].join('\\n');
        new Worker(new URL('data:text/javascript,' + encodeURIComponent(code))).unref();
      }
      const r = await me.open(path, C.O_RDONLY | C.O_NONBLOCK);
      const w = await me.open(path, C.O_WRONLY);
      me.fcntl(r, C.F_SETFL, 0);
      const out = {};
      helper(false, w);
      try { await me.read(r, 10); out.plain = 'read'; } catch (e) { out.plain = e.code; }
      helper(true, w);
      out.restart = new TextDecoder().decode(await me.read(r, 10));
      me.close(r); me.close(w);
      console.log(JSON.stringify(out));
    `, { args: [path] });
    expect(child).toMatchObject({ code: 0, signal: null, stderr: '' });
    expect(JSON.parse(child.stdout)).toEqual({ plain: 'EINTR', restart: 'restarted' });
  });
});
