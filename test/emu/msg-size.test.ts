/**
 * Sizes and accounting: E2BIG and MSG_NOERROR, zero-length messages,
 * msgmax, the queue-full rule by bytes and by count (msg_fits_inqueue), the
 * counters and times IPC_STAT shows, and MSG_COPY (prepare_copy/copy_msg).
 */

import { describe, expect, it } from 'vitest';
import { IPC_NOWAIT, IPC_SET, MSG_COPY, MSG_EXCEPT, MSG_INFO, MSG_NOERROR } from '../../host/constants.js';
import { BUILDS, cleanUp, expectErrno, expectRejects, kernel, pending, queue, stat, str, text } from './helpers.js';

describe.each(BUILDS)('message sizes and accounting (%s build)', (build) => {
  it('a message longer than msgsz is E2BIG and stays queued; msgsz may exceed msgmax', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    root.msgsndSync(q, 1, text('hello'));
    expectErrno(() => root.msgrcvSync(q, 4, 0), 'E2BIG');
    await expectRejects(root.msgrcv(q, 4, 0), 'E2BIG');
    expect(stat(root, q)).toMatchObject({ msg_qnum: 1, msg_cbytes: 5, msg_lrpid: 0, msg_rtime: 0 });
    expect(str(root.msgrcvSync(q, 1 << 40, 0).data)).toBe('hello');
    cleanUp(k, root, q);
  });

  it('MSG_NOERROR cuts the text to msgsz, removes the message whole, and cbytes drops by its full size', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    root.msgsndSync(q, 1, text('0123456789'));
    root.msgsndSync(q, 1, text('ab'));
    const buf = new Uint8Array(8).fill(0xee);
    const got = root.msgrcvInto(q, buf.subarray(0, 4), 0, MSG_NOERROR);
    expect(got).toEqual({ mtype: 1, length: 4 });
    expect(buf).toEqual(new Uint8Array([48, 49, 50, 51, 0xee, 0xee, 0xee, 0xee])); // bytes past it untouched
    expect(stat(root, q)).toMatchObject({ msg_qnum: 1, msg_cbytes: 2 });
    expect(root.msgrcvSync(q, 0, 0, MSG_NOERROR).data.length).toBe(0);
    expect(stat(root, q)).toMatchObject({ msg_qnum: 0, msg_cbytes: 0 });
    cleanUp(k, root, q);
  });

  it('zero-length messages travel; a send longer than msgmax is EINVAL, msgmax itself fits', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    root.msgsndSync(q, 9, new Uint8Array(0));
    expect(root.msgrcvSync(q, 0, 0)).toEqual({ mtype: 9, data: new Uint8Array(0) });
    expectErrno(() => root.msgsndSync(q, 1, new Uint8Array(8193)), 'EINVAL');
    root.msgsndSync(q, 1, new Uint8Array(8192).fill(3));
    expect(root.msgrcvSync(q, 8192, 0).data).toEqual(new Uint8Array(8192).fill(3));
    k.setLimits({ msgmax: 100000 });
    const large = new Uint8Array(100000).map((_, i) => i);
    root.msgctl(q, IPC_SET, { msg_qbytes: 16384 }); // room by bytes is msgmnb, whatever msgmax says
    expectErrno(() => root.msgsndSync(q, 1, large), 'EAGAIN');
    // root holds CAP_SYS_RESOURCE here, so it may raise msg_qbytes past msgmnb
    root.msgctl(q, IPC_SET, { msg_qbytes: 200000 });
    root.msgsndSync(q, 1, large);
    expect(root.msgrcvSync(q, 200000, 0).data).toEqual(large);
    cleanUp(k, root, q);
  });

  it('full by bytes: msg_cbytes + msgsz may reach msg_qbytes but not pass it (EAGAIN with IPC_NOWAIT)', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    root.msgsndSync(q, 1, new Uint8Array(8192));
    root.msgsndSync(q, 1, new Uint8Array(8192));
    expectErrno(() => root.msgsndSync(q, 1, new Uint8Array(1)), 'EAGAIN');
    await expectRejects(root.msgsnd(q, 1, new Uint8Array(1), IPC_NOWAIT), 'EAGAIN');
    expect(stat(root, q)).toMatchObject({ msg_qnum: 2, msg_cbytes: 16384 });
    cleanUp(k, root, q);
  });

  it('full by count: messages count against msg_qbytes too, so zero-length ones are bounded', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    root.msgctl(q, IPC_SET, { msg_qbytes: 4 });
    for (let i = 0; i < 4; i++) root.msgsndSync(q, 1, new Uint8Array(0));
    expectErrno(() => root.msgsndSync(q, 1, new Uint8Array(0)), 'EAGAIN');
    expect(stat(root, q)).toMatchObject({ msg_qnum: 4, msg_cbytes: 0 });
    root.msgctl(q, IPC_SET, { msg_qbytes: 0 });
    root.msgrcvSync(q, 0, 0);
    expectErrno(() => root.msgsndSync(q, 1, new Uint8Array(0)), 'EAGAIN'); // lowering below what is queued is allowed
    expect(stat(root, q).msg_qnum).toBe(3);
    cleanUp(k, root, q);
  });

  it('lspid/stime come from the sender, lrpid/rtime from the receiver; qnum and cbytes follow; MSG_INFO counts them', async () => {
    const { k, root } = await kernel(build);
    const sender = k.spawn();
    const receiver = k.spawn();
    const q = queue(root);
    sender.msgsndSync(q, 1, text('abc'));
    sender.msgsndSync(q, 2, text('de'));
    let s = stat(root, q);
    expect(s).toMatchObject({ msg_lspid: sender.pid, msg_lrpid: 0, msg_qnum: 2, msg_cbytes: 5, msg_rtime: 0 });
    expect(s.msg_stime).toBeGreaterThan(0);
    expect(root.msgctl(0, MSG_INFO)).toMatchObject({ msgpool: 1, msgmap: 2, msgtql: 5 });
    receiver.msgrcvSync(q, 8, 2);
    s = stat(root, q);
    expect(s).toMatchObject({ msg_lspid: sender.pid, msg_lrpid: receiver.pid, msg_qnum: 1, msg_cbytes: 3 });
    expect(s.msg_rtime).toBeGreaterThan(0);
    expect(root.msgctl(0, MSG_INFO)).toMatchObject({ msgmap: 1, msgtql: 3 });
    cleanUp(k, root, q);
    expect(root.msgctl(0, MSG_INFO)).toMatchObject({ msgpool: 0, msgmap: 0, msgtql: 0 });
  });

  it('MSG_COPY copies the message at an index and leaves the queue, its counters, times and pids as they were', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    for (const [t, s] of [[3, 'zero'], [1, 'one'], [3, 'two']] as const) root.msgsndSync(q, t, text(s));
    const before = stat(root, q);
    const reader = k.spawn();
    const copy = reader.msgrcvSync(q, 64, 1, MSG_COPY);
    expect([copy.mtype, str(copy.data)]).toEqual([1, 'one']);
    expect(str(reader.msgrcvSync(q, 64, 2, MSG_COPY).data)).toBe('two');
    expect(str((await reader.msgrcv(q, 64, 0, MSG_COPY | IPC_NOWAIT)).data)).toBe('zero');
    expect(stat(root, q)).toEqual(before);
    expectErrno(() => reader.msgrcvSync(q, 64, 3, MSG_COPY), 'ENOMSG');
    expectErrno(() => reader.msgrcvSync(q, 64, -1, MSG_COPY), 'ENOMSG');
    cleanUp(k, root, q);
  });

  it('MSG_COPY: without IPC_NOWAIT or with MSG_EXCEPT it is EINVAL; too long is E2BIG, and with MSG_NOERROR EINVAL (copy_msg never cuts)', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    root.msgsndSync(q, 1, text('0123456789'));
    await expectRejects(root.msgrcv(q, 64, 0, MSG_COPY), 'EINVAL');
    expectErrno(() => root.msgrcvSync(q, 64, 0, MSG_COPY | MSG_EXCEPT), 'EINVAL');
    expectErrno(() => root.msgrcvSync(q, 4, 0, MSG_COPY), 'E2BIG');
    expectErrno(() => root.msgrcvSync(q, 4, 0, MSG_COPY | MSG_NOERROR), 'EINVAL');
    // the copy holds min(msgsz, msgmax): a message longer than a since-lowered msgmax cannot be copied
    k.setLimits({ msgmax: 8 });
    expectErrno(() => root.msgrcvSync(q, 64, 0, MSG_COPY), 'EINVAL');
    expect(str(root.msgrcvSync(q, 64, 0).data)).toBe('0123456789');
    // the flag checks come before the id is looked up
    expectErrno(() => root.msgrcvSync(q + 1, 4, 0, MSG_COPY | MSG_EXCEPT), 'EINVAL');
    cleanUp(k, root, q);
  });

  it('a blocked send leaves the queue as it was until it gets room', async () => {
    const { k, root } = await kernel(build);
    const q = queue(root);
    root.msgctl(q, IPC_SET, { msg_qbytes: 5 });
    root.msgsndSync(q, 1, text('12345'));
    const sending = root.msgsnd(q, 2, text('xy'));
    expect(await pending(sending)).toBe(true);
    expect(stat(root, q)).toMatchObject({ msg_qnum: 1, msg_cbytes: 5 });
    root.msgrcvSync(q, 8, 1);
    await sending;
    expect(stat(root, q)).toMatchObject({ msg_qnum: 1, msg_cbytes: 2 });
    cleanUp(k, root, q);
  });
});
