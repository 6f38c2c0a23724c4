import { describe, expect, it } from 'vitest';
import {
  IPC_CREAT, IPC_EXCL, IPC_PRIVATE, IPC_RMID, IPC_STAT,
} from '../../host/constants.js';
import { IpcError } from '../../host/errors.js';
import { MessageQueue } from '../../host/objects/msg.js';
import { BACKENDS } from '../backends.js';
import { rejectsWith, throwsWith } from '../errors.js';

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

/** A key unlikely to collide with anything else on a real machine. */
const key = () => 0x1e000000 + Math.floor(Math.random() * 0xfffff);

for (const backend of BACKENDS) {
  describe.skipIf(backend.unavailable !== undefined)(`MessageQueue on ${backend.name}${backend.unavailable ? ` (unavailable: ${backend.unavailable})` : ''}`, () => {
    it('opens by key in the three modes, as msgget would', async () => {
      const p = await backend.process();
      const k = key();
      throwsWith(() => MessageQueue.open(p, k), 'ENOENT');
      const made = MessageQueue.open(p, k, { mode: 'exclusive', perms: 0o640 });
      try {
        expect(made.created).toBe(true);
        throwsWith(() => MessageQueue.open(p, k, { mode: 'exclusive' }), 'EEXIST');
        const again = MessageQueue.open(p, k, { mode: 'create' });
        expect(again.id).toBe(made.id);
        expect(again.created).toBe(false);
        expect(MessageQueue.open(p, k).id).toBe(made.id);
        expect(made.stat().msg_perm.mode).toBe(0o640);
      } finally {
        made.remove();
      }
      expect(() => MessageQueue.open(p, k, { perms: 0o1000 })).toThrow(RangeError);
    });

    it('sends strings and bytes, and receives by type, except and with truncation', async () => {
      const p = await backend.process();
      using q = MessageQueue.open(p, IPC_PRIVATE);
      await q.send(3, 'three');
      await q.send(1, text('one'));
      await q.send(2, 'a longer two');
      expect(await q.receive({ type: -2 })).toEqual({ type: 1, data: text('one') });
      const other = await q.receive({ type: 3, except: true, maxSize: 4, noError: true });
      expect(other.type).toBe(2);
      expect(str(other.data)).toBe('a lo');
      await rejectsWith(q.receive({ type: 9, nowait: true }), 'ENOMSG');
      await rejectsWith(q.receive({ maxSize: 2 }), 'E2BIG');
      expect(q.stat().msg_qnum).toBe(1);
      const last = await q.receive();
      expect(last.type).toBe(3);
      expect(str(last.data)).toBe('three');
    });

    it('set changes the mode and msg_qbytes, and a full queue answers EAGAIN to nowait', async () => {
      const p = await backend.process();
      using q = MessageQueue.open(p, IPC_PRIVATE);
      q.set({ mode: 0o644, msg_qbytes: 4 });
      const st = q.stat();
      expect(st.msg_perm.mode).toBe(0o644);
      expect(st.msg_qbytes).toBe(4);
      await q.send(1, 'abcd');
      await rejectsWith(q.send(1, 'e', { nowait: true }), 'EAGAIN');
      await rejectsWith(q.send(1, 'e', { timeout: 20 }), 'EAGAIN');
      expect(q.stat().msg_qnum).toBe(1);
    });

    it('a receive waits until a message comes, and an abort ends the wait with EINTR', async () => {
      const p = await backend.process();
      using q = MessageQueue.open(p, IPC_PRIVATE);
      const waiting = q.receive({ type: 5 });
      await q.send(5, 'late');
      expect(str((await waiting).data)).toBe('late');
      const controller = new AbortController();
      const aborted = q.receive({ signal: controller.signal });
      controller.abort(new Error('stop'));
      const error = await aborted.then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(IpcError);
      expect((error as IpcError).code).toBe('EINTR');
      expect((error as IpcError).cause).toEqual(new Error('stop'));
    });

    it('iterates messages in order and ends when the queue is removed', async () => {
      const p = await backend.process();
      const q = MessageQueue.open(p, IPC_PRIVATE);
      for (const [t, s] of [[1, 'a'], [2, 'b'], [1, 'c']] as const) await q.send(t, s);
      const seen: string[] = [];
      for await (const m of q) {
        seen.push(`${m.type}${str(m.data)}`);
        if (seen.length === 3) setTimeout(() => q.remove(), 10);
      }
      expect(seen).toEqual(['1a', '2b', '1c']);
      throwsWith(() => q.stat(), 'EINVAL');
    });

    it('nowait iteration drains what is queued and stops', async () => {
      const p = await backend.process();
      using q = MessageQueue.open(p, IPC_PRIVATE);
      await q.send(7, 'x');
      await q.send(7, 'y');
      const got: string[] = [];
      for await (const m of q.messages({ nowait: true })) got.push(str(m.data));
      expect(got).toEqual(['x', 'y']);
    });

    it('dispose removes a queue the handle created, and leaves an opened one alone', async () => {
      const p = await backend.process();
      const k = key();
      let id: number;
      {
        using made = MessageQueue.open(p, k, { mode: 'exclusive' });
        id = made.id;
        {
          using opened = MessageQueue.open(p, k);
          expect(opened.id).toBe(id);
        }
        expect(p.msgctl(id, IPC_STAT).msg_qnum).toBe(0);
      }
      throwsWith(() => p.msgctl(id, IPC_STAT), 'EINVAL');
      // A handle whose queue someone else removed disposes quietly.
      const gone = MessageQueue.open(p, IPC_PRIVATE);
      p.msgctl(gone.id, IPC_RMID);
      expect(() => gone[Symbol.dispose]()).not.toThrow();
      const shared = p.msgget(k, IPC_CREAT | IPC_EXCL | 0o600);
      p.msgctl(shared, IPC_RMID);
    });
  });
}
