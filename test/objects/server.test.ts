/**
 * UnixServer and connectUnix on every backend: connections as an async
 * iteration, each a Descriptor with streams; close ends the iteration,
 * wakes a sleeping accept with EINTR and removes the socket file; abstract
 * and autobound names; seqpacket keeps message boundaries.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { connectUnix, UnixServer } from '../../host/objects/server.js';
import { BACKENDS } from '../backends.js';
import { rejectsWith, throwsWith } from '../errors.js';

const str = (b: Uint8Array): string => new TextDecoder().decode(b);

describe.each(BACKENDS)('UnixServer and connectUnix ($name)', (backend) => {
  const it_ = it.skipIf(backend.unavailable !== undefined);

  it_('connections come as an async iteration, each a Duplex; close ends the iteration and removes the socket file', async () => {
    const p = await backend.process();
    const dir = mkdtempSync(join(tmpdir(), 'ipcemu-server-'));
    try {
      const path = join(dir, 'echo.sock');
      const server = UnixServer.listen(p, path);
      expect(server.name).toBe(path);
      expect(p.stat(path).type).toBe('socket');
      // an echo server: each connection's bytes go back until it shuts its side
      const serving = (async () => {
        const echoes: Promise<void>[] = [];
        for await (const conn of server) {
          const duplex = conn.duplex();
          echoes.push(pipeline(duplex, duplex));
        }
        await Promise.all(echoes);
        return 'ended';
      })();
      for (const word of ['one', 'two']) {
        const c = await connectUnix(p, path);
        await c.write(word);
        expect(str(await c.receive(64))).toBe(word);
        c.close();
      }
      await server.close();
      expect(await serving).toBe('ended');
      expect(server.closed).toBe(true);
      throwsWith(() => p.stat(path), 'ENOENT');
      await rejectsWith(connectUnix(p, path), 'ENOENT');
      await rejectsWith(server.accept(), 'EINTR');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it_('abstract and autobound names; seqpacket keeps each message; a name in use is EADDRINUSE; a sleeping accept ends with EINTR at close', async () => {
    const p = await backend.process();
    const name = `\0ipcemu-server-${process.pid}-${backend.name}-${Date.now()}`;
    const packets = UnixServer.listen(p, name, { type: 'seqpacket', backlog: 1 });
    throwsWith(() => UnixServer.listen(p, name, { type: 'seqpacket' }), 'EADDRINUSE');
    await rejectsWith(connectUnix(p, name), 'ECONNREFUSED'); // a stream socket finds no stream socket of that name
    const c = await connectUnix(p, name, { type: 'seqpacket' });
    const a = await packets.accept();
    await c.write('first');
    await c.write('second');
    expect(str(await a.receive(64))).toBe('first');
    expect(str(await a.receive(64))).toBe('second');
    const auto = UnixServer.listen(p, '');
    expect(auto.name).toMatch(/^\0[0-9a-f]{5}$/);
    const c2 = await connectUnix(p, auto.name);
    const a2 = await auto.accept();
    await a2.write('hello');
    expect(str(await c2.receive(64))).toBe('hello');
    const sleeping = auto.accept();
    await auto.close();
    await rejectsWith(sleeping, 'EINTR');
    // connections outlive their server
    await c2.write('still');
    expect(str(await a2.receive(64))).toBe('still');
    await packets.close();
    for (const d of [c, a, c2, a2]) d.close();
  });
});
