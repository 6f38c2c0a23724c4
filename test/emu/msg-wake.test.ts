/**
 * Who wakes, in which order, with what: pipelined_send (hand-off to
 * sleeping receivers in sleep order, E2BIG at once for a too-small one and
 * the message moving on), ss_wakeup (senders that fit, the rest to the
 * tail, a woken sender competing again), IPC_SET's wake-ups (receivers
 * re-check permission, senders that fit) and IPC_RMID (EIDRM, then EINVAL).
 */

import { describe, expect, it } from 'vitest';
import type { Message } from '../../host/api.js';
import { IPC_RMID, IPC_SET, MSG_NOERROR } from '../../host/constants.js';
import { BUILDS, cleanUp, expectErrno, expectRejects, kernel, pending, queue, stat, str, text, turn, user } from './helpers.js';

/** Records the order in which promises settle. */
function track(order: string[], name: string, p: Promise<unknown>): Promise<unknown> {
  return p.then((v) => { order.push(name); return v; }, (e: unknown) => { order.push(`${name}:${(e as { code?: string }).code}`); throw e; });
}

describe.each(BUILDS)('wake-ups (%s build)', (build) => {
  it('a send goes straight to the first sleeping receiver whose type matches, in sleep order; the queue never holds it', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    const a = k.spawn();
    const b = k.spawn();
    const c = k.spawn();
    const r1 = a.msgrcv(q, 64, 2);
    const r2 = b.msgrcv(q, 64, 0);
    const r3 = c.msgrcv(q, 64, 0);
    await turn();
    root.msgsndSync(q, 1, text('first'));
    expect((await r2).data).toEqual(text('first'));
    expect(await pending(r1)).toBe(true);
    expect(await pending(r3)).toBe(true);
    const s = stat(root, q);
    // lrpid and rtime were set by the sender's call; the message was never queued
    expect(s).toMatchObject({ msg_qnum: 0, msg_cbytes: 0, msg_lspid: root.pid, msg_lrpid: b.pid });
    expect(s.msg_rtime).toBeGreaterThan(0);
    root.msgsndSync(q, 2, text('second'));
    expect(str((await r1).data)).toBe('second');
    root.msgsndSync(q, 7, text('third'));
    expect(str((await r3).data)).toBe('third');
    cleanUp(k, root, q);
  });

  it('a matching receiver whose buffer is too small fails with E2BIG at once and the same message moves on', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    const order: string[] = [];
    const small = track(order, 'small', root.msgrcv(q, 2, 0));
    const cut = track(order, 'cut', root.msgrcv(q, 2, 5, MSG_NOERROR));
    const big = track(order, 'big', root.msgrcv(q, 64, 0));
    await turn();
    root.msgsndSync(q, 1, text('hello'));
    await expectRejects(small as Promise<Message>, 'E2BIG');
    expect(((await big) as Message).data).toEqual(text('hello'));
    expect(order).toEqual(['small:E2BIG', 'big']);
    // a too-small receiver with MSG_NOERROR takes the message, cut
    root.msgsndSync(q, 5, text('world'));
    expect(((await cut) as Message).data).toEqual(text('wo'));
    // with nobody left for it, a too-long message is queued
    const tooSmall = root.msgrcv(q, 1, 0);
    await turn();
    root.msgsndSync(q, 3, text('xyz'));
    await expectRejects(tooSmall, 'E2BIG');
    expect(stat(root, q)).toMatchObject({ msg_qnum: 1, msg_cbytes: 3 });
    cleanUp(k, root, q);
  });

  it('a receive wakes only the sleeping senders whose message now fits; the others keep sleeping', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    root.msgctl(q, IPC_SET, { msg_qbytes: 10 });
    root.msgsndSync(q, 1, text('aaaaa'));
    root.msgsndSync(q, 1, text('bbbbb'));
    const s8 = root.msgsnd(q, 2, new Uint8Array(8));
    const s4 = root.msgsnd(q, 3, new Uint8Array(4));
    await turn();
    root.msgrcvSync(q, 64, 1); // 5 bytes free: only the 4-byte sender fits
    await s4;
    expect(await pending(s8)).toBe(true);
    expect(stat(root, q)).toMatchObject({ msg_qnum: 2, msg_cbytes: 9 });
    root.msgrcvSync(q, 64, 1);
    expect(await pending(s8)).toBe(true); // 6 free: still no room for 8
    root.msgrcvSync(q, 64, 3);
    await s8;
    expect(stat(root, q)).toMatchObject({ msg_qnum: 1, msg_cbytes: 8 });
    cleanUp(k, root, q);
  });

  it('woken senders run in wake order and compete: one that no longer fits goes back to sleep at the tail', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    root.msgctl(q, IPC_SET, { msg_qbytes: 10 });
    root.msgsndSync(q, 1, new Uint8Array(10));
    const order: string[] = [];
    const s1 = track(order, 's1', root.msgsnd(q, 11, new Uint8Array(6)));
    const s2 = track(order, 's2', root.msgsnd(q, 12, new Uint8Array(6)));
    const s3 = track(order, 's3', root.msgsnd(q, 13, new Uint8Array(4)));
    await turn();
    // all three fit an empty queue, so all are woken; s1 sends, s2 no longer fits, s3 does
    root.msgrcvSync(q, 64, 1);
    await turn();
    expect(order).toEqual(['s1', 's3']);
    expect(stat(root, q)).toMatchObject({ msg_qnum: 2, msg_cbytes: 10 });
    expect(root.msgrcvSync(q, 64, 0).mtype).toBe(11);
    await s2;
    expect(root.msgrcvSync(q, 64, 0).mtype).toBe(13);
    expect(root.msgrcvSync(q, 64, 0).mtype).toBe(12);
    await Promise.all([s1, s3]);
    cleanUp(k, root, q);
  });

  it('nothing is reserved for a woken sender: a sender with no room is not woken at all, and a newcomer may take the room first', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    root.msgctl(q, IPC_SET, { msg_qbytes: 4 });
    root.msgsndSync(q, 1, new Uint8Array(4));
    const sleeper = root.msgsnd(q, 2, new Uint8Array(3));
    await turn();
    root.msgrcvSync(q, 64, 0);
    // the sleeper was woken and took the room within the receive
    await sleeper;
    expectErrno(() => root.msgsndSync(q, 3, new Uint8Array(3)), 'EAGAIN');
    // a receive freeing too little wakes nobody (the sleeper stays first in line)
    const big = root.msgsnd(q, 4, new Uint8Array(4));
    await turn();
    root.msgsndSync(q, 5, new Uint8Array(1)); // a newcomer fills the last byte
    root.msgrcvSync(q, 64, 5);
    expect(await pending(big)).toBe(true);
    root.msgrcvSync(q, 64, 2);
    await big;
    cleanUp(k, root, q);
  });

  it('IPC_SET wakes every sleeping receiver to check again: one that lost read permission fails with EACCES, the rest sleep on in order', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root, 0o666);
    const other = user(k);
    const order: string[] = [];
    const mine1 = track(order, 'mine1', root.msgrcv(q, 64, 0));
    const theirs = track(order, 'theirs', other.msgrcv(q, 64, 0));
    const mine2 = track(order, 'mine2', root.msgrcv(q, 64, 0));
    await turn();
    root.msgctl(q, IPC_SET, { mode: 0o600 });
    await expectRejects(theirs as Promise<Message>, 'EACCES');
    expect(await pending(mine1)).toBe(true);
    root.msgsndSync(q, 1, text('a'));
    root.msgsndSync(q, 1, text('b'));
    expect(str(((await mine1) as Message).data)).toBe('a');
    expect(str(((await mine2) as Message).data)).toBe('b');
    expect(order).toEqual(['theirs:EACCES', 'mine1', 'mine2']);
    cleanUp(k, root, q);
  });

  it('IPC_SET wakes the senders that fit under a larger msg_qbytes; a woken sender that lost write permission fails with EACCES', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root, 0o666);
    root.msgctl(q, IPC_SET, { msg_qbytes: 2 });
    const other = user(k);
    const mine = root.msgsnd(q, 1, new Uint8Array(3));
    const theirs = other.msgsnd(q, 2, new Uint8Array(4));
    const huge = root.msgsnd(q, 3, new Uint8Array(20));
    await turn();
    root.msgctl(q, IPC_SET, { msg_qbytes: 10, mode: 0o644 });
    await mine;
    await expectRejects(theirs, 'EACCES');
    expect(await pending(huge)).toBe(true);
    expect(stat(root, q)).toMatchObject({ msg_qnum: 1, msg_cbytes: 3 });
    root.msgctl(q, IPC_SET, { msg_qbytes: 100 });
    await huge;
    cleanUp(k, root, q);
  });

  it('IPC_RMID fails every sleeping receiver and then every sleeping sender with EIDRM; later calls with the id get EINVAL', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    root.msgctl(q, IPC_SET, { msg_qbytes: 1 });
    root.msgsndSync(q, 1, text('x'));
    const order: string[] = [];
    const s = track(order, 's', root.msgsnd(q, 1, text('y')));
    const r = track(order, 'r', root.msgrcv(q, 64, 2));
    await turn();
    root.msgctl(q, IPC_RMID);
    await expectRejects(r as Promise<Message>, 'EIDRM');
    await expectRejects(s as Promise<void>, 'EIDRM');
    expect(order).toEqual(['r:EIDRM', 's:EIDRM']);
    await expectRejects(root.msgrcv(q, 64, 0), 'EINVAL');
    await expectRejects(root.msgsnd(q, 1, text('z')), 'EINVAL');
    expectErrno(() => root.msgctl(q, IPC_RMID), 'EINVAL');
    cleanUp(k, root);
  });

  it('a receiver woken by a send completes within microtasks of that send (before the next macrotask turn)', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    let done = false;
    const waiting = root.msgrcv(q, 64, 0).then((m) => { done = true; return m; });
    await turn();
    root.msgsndSync(q, 1, text('now'));
    await Promise.resolve();
    await Promise.resolve();
    expect(done).toBe(true);
    await waiting;
    cleanUp(k, root, q);
  });
});
