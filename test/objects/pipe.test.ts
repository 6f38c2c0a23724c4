import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Process, SimProcess } from '../../host/api.js';
import { FIONREAD, POLLOUT } from '../../host/constants.js';
import { IpcError } from '../../host/errors.js';
import { Fifo, Pipe } from '../../host/objects/pipe.js';
import { DEFAULT_HIGH_WATER_MARK } from '../../host/objects/stream.js';
import { BACKENDS } from '../backends.js';
import { rejectsWith } from '../errors.js';

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

/** `n` bytes of a pattern that shows a lost, doubled or reordered byte. */
function pattern(n: number, seed = 7): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Yields `data` in chunks of `size` bytes. */
function* slices(data: Uint8Array, size: number): Generator<Uint8Array> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

async function collect(readable: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of readable) parts.push(chunk);
  return Buffer.concat(parts);
}

/** Waits (a macrotask at a time, boundedly) until `condition` holds: progress of other calls, never a timing claim. */
async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 5000; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, i < 100 ? 0 : 2));
  }
  throw new Error(`never happened: ${what}`);
}

/** The reading process: a forked child on the emulator; this process on native, where Node cannot fork. */
function reader(p: Process): { process: Process; done: () => Promise<void> } {
  if (p.backend !== 'emu') return { process: p, done: async () => undefined };
  const child = (p as SimProcess).fork();
  return { process: child, done: () => child.exit() };
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

for (const backend of BACKENDS) {
  describe.skipIf(backend.unavailable !== undefined)(`Pipe streams on ${backend.name}${backend.unavailable ? ` (unavailable: ${backend.unavailable})` : ''}`, () => {
    // Every descriptor a test opens is closed: on native they are this process's own, and
    // /proc/self/fd shows a leak or a double close (emulated ones live in the wasm kernel).
    const realFds = () => (backend.name === 'native' ? readdirSync('/proc/self/fd').length : 0);
    let openBefore = 0;
    beforeAll(() => {
      openBefore = realFds();
    });
    afterAll(() => {
      expect(realFds()).toBe(openBefore);
    });

    it('carries 1 MiB through a Writable into a Readable in another process, byte for byte', async () => {
      const p = await backend.process();
      const pipe = Pipe.open(p);
      const other = reader(p);
      try {
        const there = other.process === p ? pipe : pipe.in(other.process);
        if (there !== pipe) {
          // Each process keeps only the end it uses, or end of file would never come.
          there.writer.close();
          pipe.reader.close();
        }
        const data = pattern(1 << 20);
        const received = collect(there.readable());
        await pipeline(Readable.from(slices(data, 10_000)), pipe.writable());
        const got = await received;
        expect(got.length).toBe(data.length);
        expect(Buffer.compare(got, data)).toBe(0);
        expect(pipe.writer.closed).toBe(true);
        expect(there.reader.closed).toBe(true);
      } finally {
        pipe.close();
        await other.done();
      }
    });

    it('buffers no more than the pipe holds plus highWaterMark while nobody reads, and loses nothing', async () => {
      const p = await backend.process();
      using pipe = Pipe.open(p);
      const capacity = pipe.capacity;
      const w = pipe.writable();
      const chunkSize = 1024;
      const data = pattern(4 * capacity, 3);
      let offered = 0;
      let acknowledged = 0;
      const producer = (async () => {
        for (const chunk of slices(data, chunkSize)) {
          offered += chunk.length;
          const more = w.write(chunk, (error) => {
            if (!error) acknowledged += chunk.length;
          });
          if (!more) await once(w, 'drain');
        }
        w.end();
      })();
      // Full: no page slot free (POLLOUT clear), and the stream asking for a drain.
      await until(async () => w.writableNeedDrain && (await p.poll(pipe.writeFd, POLLOUT, 0)) === 0, 'the pipe full');
      const inKernel = p.ioctl(pipe.readFd, FIONREAD);
      // Slots may hold partly filled pages (checklist 134), so "full" can be under the capacity.
      expect(inKernel).toBeLessThanOrEqual(capacity);
      // A write counts as done only once the kernel took it; the stream holds at most highWaterMark more.
      expect(acknowledged).toBeLessThanOrEqual(inKernel);
      expect(w.writableLength).toBeLessThanOrEqual(DEFAULT_HIGH_WATER_MARK + chunkSize);
      expect(offered - inKernel).toBeLessThanOrEqual(DEFAULT_HIGH_WATER_MARK + chunkSize);
      const got = await collect(pipe.readable());
      await producer;
      expect(acknowledged).toBe(data.length);
      expect(Buffer.compare(got, data)).toBe(0);
    });

    it('ends the Readable at end of file, after the buffered bytes, and closes its end', async () => {
      const p = await backend.process();
      using pipe = Pipe.open(p);
      await pipe.write('abc');
      await pipe.write('def');
      pipe.writer.close();
      const r = pipe.readable();
      const chunks: string[] = [];
      r.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
      await finished(r);
      expect(chunks.join('')).toBe('abcdef');
      expect(pipe.reader.closed).toBe(true);
    });

    it('async iteration gives the chunks until end of file', async () => {
      const p = await backend.process();
      using pipe = Pipe.open(p);
      const data = pattern(100_000, 11);
      const writing = pipe.writer.writeAll(data).then(() => pipe.writer.close());
      const parts: Uint8Array[] = [];
      for await (const chunk of pipe.readable({ highWaterMark: 4096 })) {
        expect(chunk.length).toBeLessThanOrEqual(4096);
        parts.push(chunk);
      }
      await writing;
      expect(Buffer.compare(Buffer.concat(parts), data)).toBe(0);
      // The descriptor's own iterator reads without a stream in between.
      using again = Pipe.open(p);
      await again.write('xyz');
      again.writer.close();
      const seen: string[] = [];
      for await (const chunk of again) seen.push(str(chunk));
      expect(seen.join('')).toBe('xyz');
    });

    it('fails the Writable with EPIPE when no reader is left, also while it waits on a full pipe', async () => {
      const p = await backend.process();
      using pipe = Pipe.open(p);
      pipe.reader.close();
      const w = pipe.writable();
      w.write('x');
      const [error] = await once(w, 'error') as [unknown];
      expect(error).toBeInstanceOf(IpcError);
      expect((error as IpcError).code).toBe('EPIPE');
      expect(pipe.writer.closed).toBe(true);

      using full = Pipe.open(p);
      const big = full.writable();
      big.write(pattern(full.capacity + 10_000));
      await until(() => full.buffered === full.capacity, 'the pipe full');
      const failed = once(big, 'error');
      full.reader.close();
      const [late] = await failed as [unknown];
      expect((late as IpcError).code).toBe('EPIPE');
    });

    it('destroying a Readable interrupts its pending read and loses no byte', async () => {
      const p = await backend.process();
      using pipe = Pipe.open(p);
      const r = pipe.readable({ autoClose: false });
      r.read(0); // starts a read at once: the pipe is empty, so it sleeps
      await new Promise((resolve) => setImmediate(resolve));
      const closed = once(r, 'close');
      r.destroy();
      await closed;
      expect(pipe.reader.closed).toBe(false);
      await pipe.write('after');
      expect(str(await pipe.read(100))).toBe('after');

      // Bytes arriving as the stream is destroyed come out of the next read,
      // whether the pending read took them (kept by the Descriptor) or not (still in the kernel).
      const r2 = pipe.readable({ autoClose: false });
      r2.read(0);
      p.writeSync(pipe.writeFd, text('racing'));
      r2.destroy();
      await once(r2, 'close');
      expect(pipe.reader.available).toBe(6); // kept here plus still in the kernel
      expect(str(await pipe.read(100))).toBe('racing');

      // With autoClose (the default) the descriptor closes once the read has settled.
      const r3 = pipe.readable();
      r3.read(0);
      r3.destroy();
      await once(r3, 'close');
      expect(pipe.reader.closed).toBe(true);
    });

    it('an abort signal given to the stream destroys it with an AbortError', async () => {
      const p = await backend.process();
      using pipe = Pipe.open(p);
      const controller = new AbortController();
      const r = pipe.readable({ signal: controller.signal, autoClose: false });
      r.read(0);
      const failed = once(r, 'error');
      controller.abort();
      const [error] = await failed as [Error];
      expect(error.name).toBe('AbortError');
      await pipe.write('kept');
      expect(str(await pipe.read(10))).toBe('kept');
    });

    it('Web streams round trip, with a BYOB reader, and cancel keeps the bytes', async () => {
      const p = await backend.process();
      using pipe = Pipe.open(p);
      const data = pattern(200_000, 5);
      const writer = pipe.writableStream().getWriter();
      const writing = (async () => {
        for (const chunk of slices(data, 30_000)) {
          await writer.ready;
          await writer.write(chunk);
        }
        await writer.write('tail');
        await writer.close();
      })();
      const got = await collect(pipe.readableStream());
      await writing;
      expect(Buffer.compare(got, Buffer.concat([data, text('tail')]))).toBe(0);
      expect(pipe.reader.closed && pipe.writer.closed).toBe(true);

      using again = Pipe.open(p);
      await again.write('0123456789');
      const byob = again.readableStream({ autoClose: false }).getReader({ mode: 'byob' });
      const first = await byob.read(new Uint8Array(4));
      expect(str(first.value!)).toBe('0123');
      const pending = byob.read(new Uint8Array(100));
      expect(str((await pending).value!)).toBe('456789');
      const sleeping = byob.read(new Uint8Array(100));
      await byob.cancel();
      expect((await sleeping).done).toBe(true);
      await again.write('later');
      expect(str(await again.read(10))).toBe('later');
    });

    it('aborting a Web writer interrupts its write on a full pipe; the bytes taken stay written', async () => {
      const p = await backend.process();
      using pipe = Pipe.open(p);
      const writer = pipe.writableStream({ autoClose: false }).getWriter();
      const big = pattern(pipe.capacity * 2, 9);
      const writing = writer.write(big);
      await until(() => pipe.buffered === pipe.capacity, 'the pipe full');
      await writer.abort(new Error('enough'));
      await rejectsWith(writing, 'EINTR');
      expect(pipe.writer.closed).toBe(false);
      expect(pipe.buffered).toBe(pipe.capacity);
      const first = await pipe.read(pipe.capacity);
      expect(Buffer.compare(first, big.subarray(0, first.length))).toBe(0);
    });

    it('pipeline() from node:stream/promises moves data through, with a transform in the middle', async () => {
      const p = await backend.process();
      using pipe = Pipe.open(p);
      const words = Array.from({ length: 2000 }, (_, i) => `word${i} `);
      const out: string[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          out.push(chunk.toString());
          callback();
        },
      });
      await Promise.all([
        pipeline(Readable.from(words), async function* upper(source: AsyncIterable<string>) {
          for await (const w of source) yield w.toUpperCase();
        }, pipe.writable()),
        pipeline(pipe.readable(), sink),
      ]);
      expect(out.join('')).toBe(words.join('').toUpperCase());
    });

    it('an O_NONBLOCK pipe still streams: the streams wait in poll, not in a loop', async () => {
      const p = await backend.process();
      using pipe = Pipe.open(p, { nonblock: true });
      await rejectsWith(pipe.read(10), 'EAGAIN');
      const data = pattern(300_000, 13);
      const received = collect(pipe.readable());
      await pipeline(Readable.from(slices(data, 50_000)), pipe.writable());
      expect(Buffer.compare(await received, data)).toBe(0);
    });

    it('the FIFO echo: a reader process and a writer that echoes a line into the FIFO', async () => {
      const p = await backend.process();
      const dir = mkdtempSync(join(tmpdir(), 'ipcemu-fifo-'));
      dirs.push(dir);
      using fifo = Fifo.make(p, join(dir, 'echo'), 0o644);
      expect(fifo.stat()).toEqual({ type: 'fifo', mode: 0o644 });
      const other = reader(p);
      try {
        const opening = fifo.in(other.process).open('read'); // waits for a writer
        const writeEnd = await fifo.open('write');
        const readEnd = await opening;
        const line = collect(readEnd.readable());
        const w = writeEnd.writable();
        w.end('hello\n');
        await finished(w);
        expect(str(await line)).toBe('hello\n');
      } finally {
        await other.done();
      }
    });

    it('a FIFO opened read-write never waits, and its Duplex reads back what it wrote; dispose unlinks', async () => {
      const p = await backend.process();
      const dir = mkdtempSync(join(tmpdir(), 'ipcemu-fifo-'));
      dirs.push(dir);
      const path = join(dir, 'loop');
      {
        using fifo = Fifo.make(p, path);
        await rejectsWith(fifo.open('write', { nonblock: true }), 'ENXIO');
        const both = await fifo.open('readwrite');
        const d = both.duplex();
        d.write('round and round');
        const [chunk] = await once(d, 'data') as [Buffer];
        expect(chunk.toString()).toBe('round and round');
        d.destroy();
        await once(d, 'close');
        expect(both.closed).toBe(true);
      }
      expect(() => p.stat(path)).toThrow(IpcError);
    });
  });
}

const native = BACKENDS.find((b) => b.name === 'native')!;
describe.skipIf(native.unavailable !== undefined)(`Pipe into another program on native${native.unavailable ? ` (unavailable: ${native.unavailable})` : ''}`, () => {
  it("a Writable over a pipe feeds a child process's stdin", async () => {
    const p = await native.process();
    // O_CLOEXEC: only the child's stdin (a dup2 of the read end) may outlive exec, or the
    // child would hold a write end too and never see end of file.
    using pipe = Pipe.open(p, { cloexec: true });
    const script = "const h=require('crypto').createHash('sha256');let n=0;"
      + "process.stdin.on('data',c=>{n+=c.length;h.update(c)}).on('end',()=>process.stdout.write(n+' '+h.digest('hex')))";
    const child = spawn(process.execPath, ['-e', script], { stdio: [pipe.readFd, 'pipe', 'inherit'] });
    pipe.reader.close(); // the child has its own copy
    const answer = collect(child.stdout!);
    const data = pattern(1 << 20, 17);
    await pipeline(Readable.from(slices(data, 65536)), pipe.writable());
    const [code] = await once(child, 'exit') as [number];
    expect(code).toBe(0);
    expect(str(await answer)).toBe(`${data.length} ${createHash('sha256').update(data).digest('hex')}`);
  });
});
