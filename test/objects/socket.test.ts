import { once } from 'node:events';
import { type Duplex, Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import type { Process, SimProcess } from '../../host/api.js';
import { IpcError } from '../../host/errors.js';
import { SocketPair } from '../../host/objects/socket.js';
import { BACKENDS } from '../backends.js';

const str = (b: Uint8Array) => new TextDecoder().decode(b);

async function collect(readable: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of readable) parts.push(chunk);
  return Buffer.concat(parts);
}

/** Everything a Readable gives until its end, without ending the Duplex it may belong to (as for-await would). */
async function readToEnd(readable: Readable | Duplex): Promise<string> {
  const parts: Buffer[] = [];
  readable.on('data', (chunk: Buffer) => parts.push(chunk));
  await once(readable, 'end');
  return Buffer.concat(parts).toString();
}

function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + (i >> 8)) & 0xff;
  return out;
}

/** A forked child on the emulator; this process on native, where Node cannot fork. */
function peer(p: Process): { process: Process; done: () => Promise<void> } {
  if (p.backend !== 'emu') return { process: p, done: async () => undefined };
  const child = (p as SimProcess).fork();
  return { process: child, done: () => child.exit() };
}

for (const backend of BACKENDS) {
  describe.skipIf(backend.unavailable !== undefined)(`SocketPair streams on ${backend.name}${backend.unavailable ? ` (unavailable: ${backend.unavailable})` : ''}`, () => {
    it('Duplexes talk both ways; ending one side shuts it down and the peer reads end of file', async () => {
      const p = await backend.process();
      using pair = SocketPair.open(p);
      const [a, b] = pair.duplexes();
      a.end('ping');
      expect(await readToEnd(b)).toBe('ping');
      // b's reading side ended but b may still write: a half-open socket, as net.Socket allows.
      b.end('pong');
      expect(await readToEnd(a)).toBe('pong');
      await Promise.all([finished(a), finished(b)]);
      expect(pair.a.closed && pair.b.closed).toBe(true);
    });

    it('carries 1 MiB to a Duplex in another process and back', async () => {
      const p = await backend.process();
      const pair = SocketPair.open(p);
      const other = peer(p);
      try {
        const there = other.process === p ? pair : pair.in(other.process);
        if (there !== pair) {
          there.a.close();
          pair.b.close();
        }
        const data = pattern(1 << 20);
        const echo = there.b.duplex();
        const echoing = pipeline(echo, echo); // the far end sends back all it reads, then shuts down
        const near = pair.a.duplex();
        const back = collect(near);
        await pipeline(Readable.from([data.subarray(0, 300_000), data.subarray(300_000)]), near);
        expect(Buffer.compare(await back, data)).toBe(0);
        await echoing;
      } finally {
        pair.close();
        await other.done();
      }
    });

    for (const type of ['seqpacket', 'dgram'] as const) {
      it(`a ${type} Duplex gives one chunk per message`, async () => {
        const p = await backend.process();
        using pair = SocketPair.open(p, type);
        const a = pair.a.duplex({ autoClose: false });
        const b = pair.b.duplex({ autoClose: false });
        // An empty datagram is a message (on seqpacket an empty read is end of file).
        const sent = type === 'dgram' ? ['one', 'two', '', 'three'] : ['one', 'two', 'three'];
        for (const m of sent) a.write(m);
        const got: string[] = [];
        for await (const m of b) {
          got.push(str(m as Uint8Array));
          if (got.length === sent.length) break;
        }
        expect(got).toEqual(sent);
        a.destroy();
        await once(a, 'close');
      });
    }

    it('a message longer than messageSize fails the stream with a RangeError', async () => {
      const p = await backend.process();
      using pair = SocketPair.open(p, 'dgram');
      await pair.a.writeAll(pattern(100));
      const r = pair.b.readable({ messageSize: 10, autoClose: false });
      r.resume();
      const [error] = await once(r, 'error') as [unknown];
      expect(error).toBeInstanceOf(RangeError);
    });

    it('writing after the peer closed fails the Duplex with EPIPE', async () => {
      const p = await backend.process();
      using pair = SocketPair.open(p);
      pair.b.close();
      const a = pair.a.duplex();
      a.write('x');
      const [error] = await once(a, 'error') as [unknown];
      expect(error).toBeInstanceOf(IpcError);
      expect((error as IpcError).code).toBe('EPIPE');
    });

    it('Web streams over a socket round trip', async () => {
      const p = await backend.process();
      using pair = SocketPair.open(p);
      const reading = collect(pair.b.readableStream());
      const writer = pair.a.writableStream().getWriter();
      await writer.write('web ');
      await writer.write(new TextEncoder().encode('streams'));
      await writer.close();
      expect(str(await reading)).toBe('web streams');
    });
  });
}
