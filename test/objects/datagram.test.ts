/**
 * UnixDatagram on every backend: messages with their sender's name, replies
 * to that name, a connected socket's sends, an iteration that ends at close,
 * and the socket file removed then.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UnixDatagram } from '../../host/objects/datagram.js';
import { BACKENDS } from '../backends.js';
import { rejectsWith, throwsWith } from '../errors.js';

const str = (b: Uint8Array): string => new TextDecoder().decode(b);

describe.each(BACKENDS)('UnixDatagram ($name)', (backend) => {
  it.skipIf(backend.unavailable !== undefined)('an echo server answers each sender by name; an unnamed sender is heard but cannot be answered; close ends the iteration and removes the file', async () => {
    const p = await backend.process();
    const dir = mkdtempSync(join(tmpdir(), 'ipcemu-datagram-'));
    try {
      const path = join(dir, 'echo.sock');
      const server = UnixDatagram.open(p, path);
      expect(server.name).toBe(path);
      const heard: string[] = [];
      const serving = (async () => {
        for await (const { data, from } of server) {
          heard.push(`${str(data)} from ${from === '' ? 'nobody' : 'a name'}`);
          if (from !== '') await server.send(data, from);
        }
        return 'ended';
      })();
      const client = UnixDatagram.open(p, ''); // autobind: replies can find it
      expect(client.name).toMatch(/^\0[0-9a-f]{5}$/);
      await client.send('ping', path);
      expect(await client.receive()).toEqual({ data: new TextEncoder().encode('ping'), length: 4, from: path });
      const unnamed = UnixDatagram.open(p);
      await unnamed.connect(path);
      await unnamed.send('anonymous');
      await client.send('last', path);
      expect(str((await client.receive()).data)).toBe('last');
      await server.close();
      expect(await serving).toBe('ended');
      expect(heard).toEqual(['ping from a name', 'anonymous from nobody', 'last from a name']);
      throwsWith(() => p.stat(path), 'ENOENT');
      await rejectsWith(client.send('gone', path), 'ENOENT');
      await rejectsWith(unnamed.send('gone'), 'ECONNREFUSED');
      await rejectsWith(server.receive(), 'EINTR');
      await client.close();
      await unnamed.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
