/**
 * The registry (assembly/ipc/registry.ts): the msgget decision tree in
 * ipcget_public()'s order, ids (seq << 15) + index with cyclic allocation,
 * stale ids, removal, msgmni.
 */

import { describe, expect, it } from 'vitest';
import {
  IPC_CREAT, IPC_EXCL, IPC_INFO, IPC_PRIVATE, IPC_RMID, IPC_STAT, MSG_INFO,
} from '../../host/constants.js';
import { BUILDS, cleanUp, expectErrno, kernel, stat, user } from './helpers.js';

describe.each(BUILDS)('registry (%s build)', (build) => {
  it('IPC_PRIVATE always creates, whatever IPC_CREAT and IPC_EXCL say; the first id of a kernel is 0', async () => {
    const { k, root } = await kernel(build);
    const a = root.msgget(IPC_PRIVATE, 0o600);
    const b = root.msgget(IPC_PRIVATE, IPC_CREAT | IPC_EXCL | 0o600);
    const c = root.msgget(IPC_PRIVATE);
    expect(a).toBe(0);
    expect(new Set([a, b, c]).size).toBe(3);
    expect(stat(root, a).msg_perm.key).toBe(0);
    cleanUp(k, root, a, b, c);
  });

  it('a missing key: ENOENT without IPC_CREAT (IPC_EXCL alone creates nothing), else a new queue', async () => {
    const { k, root } = await kernel(build);
    expectErrno(() => root.msgget(42, 0o600), 'ENOENT');
    expectErrno(() => root.msgget(42, IPC_EXCL | 0o600), 'ENOENT');
    const q = root.msgget(42, IPC_CREAT | 0o640);
    expect(root.msgget(42, 0)).toBe(q);
    expect(root.msgget(42, IPC_CREAT)).toBe(q);
    expect(stat(root, q).msg_perm.key).toBe(42);
    cleanUp(k, root, q);
  });

  it('an existing key: EEXIST with IPC_CREAT|IPC_EXCL comes before the permission check', async () => {
    const { k, root } = await kernel(build);
    const q = root.msgget(7, IPC_CREAT | 0o600);
    const other = user(k);
    expectErrno(() => other.msgget(7, IPC_CREAT | IPC_EXCL | 0o600), 'EEXIST');
    expectErrno(() => other.msgget(7, 0o400), 'EACCES');
    // asking for no access at all always passes
    expect(other.msgget(7, 0)).toBe(q);
    cleanUp(k, root, q);
  });

  it('the access asked for is the flag mode bits of every class, checked against the caller\'s class', async () => {
    const { k, root } = await kernel(build);
    const q = root.msgget(8, IPC_CREAT | 0o604);
    const other = user(k);
    expect(other.msgget(8, 0o004)).toBe(q);
    expect(other.msgget(8, 0o400)).toBe(q); // the read bit, asked in the owner position
    expectErrno(() => other.msgget(8, 0o020), 'EACCES');
    cleanUp(k, root, q);
  });

  it('a new queue takes the creator\'s ids, only the low nine mode bits, and ctime now', async () => {
    const { k, root } = await kernel(build);
    const p = user(k, { uid: 1001, gid: 2002, groups: [3003] });
    const q = p.msgget(IPC_PRIVATE, IPC_CREAT | 0o7777);
    const s = stat(p, q);
    expect(s.msg_perm).toEqual({ key: 0, uid: 1001, gid: 2002, cuid: 1001, cgid: 2002, mode: 0o777 });
    expect(s).toMatchObject({ msg_qnum: 0, msg_cbytes: 0, msg_qbytes: 16384, msg_lspid: 0, msg_lrpid: 0, msg_stime: 0, msg_rtime: 0 });
    expect(s.msg_ctime).toBeGreaterThan(0);
    cleanUp(k, p, q);
  });

  it('indices are handed out cyclically below ipc_min_cycle (64), and seq goes up when the index wraps', async () => {
    const { k, root } = await kernel(build);
    const ids: number[] = [];
    for (let i = 0; i < 65; i++) {
      const q = root.msgget(IPC_PRIVATE, IPC_CREAT | 0o600);
      ids.push(q);
      root.msgctl(q, IPC_RMID);
    }
    // a freed index is not reused at once: 0, 1, 2 ... 63, then index 0 again with seq 1
    expect(ids.slice(0, 64)).toEqual([...Array(64).keys()]);
    expect(ids[64]).toBe((1 << 15) + 0);
    cleanUp(k, root);
  });

  it('a removed id stays invalid (EINVAL, never EIDRM) even when its index is reused', async () => {
    const { k, root } = await kernel(build);
    const old = root.msgget(IPC_PRIVATE, IPC_CREAT | 0o600);
    root.msgctl(old, IPC_RMID);
    let reused = -1;
    for (let i = 0; i < 64 && (reused & 0x7fff) !== (old & 0x7fff); i++) {
      if (reused >= 0) root.msgctl(reused, IPC_RMID);
      reused = root.msgget(IPC_PRIVATE, IPC_CREAT | 0o600);
    }
    expect(reused & 0x7fff).toBe(old & 0x7fff);
    expect(reused).not.toBe(old);
    expectErrno(() => root.msgctl(old, IPC_STAT), 'EINVAL');
    expectErrno(() => root.msgsndSync(old, 1, new Uint8Array(1)), 'EINVAL');
    expectErrno(() => root.msgrcvSync(old, 8, 0), 'EINVAL');
    expectErrno(() => root.msgctl(old, IPC_RMID), 'EINVAL');
    expect(stat(root, reused).msg_qnum).toBe(0);
    cleanUp(k, root, reused);
  });

  it('IPC_RMID drops the key at once: the key then names nothing (ENOENT) or a new queue', async () => {
    const { k, root } = await kernel(build);
    const q = root.msgget(99, IPC_CREAT | 0o600);
    root.msgctl(q, IPC_RMID);
    expectErrno(() => root.msgget(99, 0o600), 'ENOENT');
    const again = root.msgget(99, IPC_CREAT | IPC_EXCL | 0o600);
    expect(again).not.toBe(q);
    cleanUp(k, root, again);
  });

  it('msgmni queues at most: ENOSPC, for IPC_PRIVATE and for a new key, never for an existing key', async () => {
    const { k, root } = await kernel(build, { limits: { msgmni: 3 } });
    const qs = [root.msgget(1, IPC_CREAT | 0o600), root.msgget(IPC_PRIVATE, IPC_CREAT), root.msgget(IPC_PRIVATE, IPC_CREAT)];
    expectErrno(() => root.msgget(IPC_PRIVATE, IPC_CREAT), 'ENOSPC');
    expectErrno(() => root.msgget(2, IPC_CREAT | 0o600), 'ENOSPC');
    expect(root.msgget(1, IPC_CREAT)).toBe(qs[0]);
    expect(root.msgctl(0, MSG_INFO).msgpool).toBe(3);
    root.msgctl(qs[1]!, IPC_RMID);
    const more = root.msgget(IPC_PRIVATE, IPC_CREAT);
    cleanUp(k, root, qs[0]!, qs[2]!, more);
  });

  it('IPC_INFO answers the highest index in use, which falls back when the highest queue goes', async () => {
    const { k, root } = await kernel(build);
    expect(root.msgctl(0, IPC_INFO).result).toBe(0);
    const a = root.msgget(IPC_PRIVATE, IPC_CREAT);
    const b = root.msgget(IPC_PRIVATE, IPC_CREAT);
    const c = root.msgget(IPC_PRIVATE, IPC_CREAT);
    expect(root.msgctl(0, IPC_INFO).result).toBe(2);
    root.msgctl(b, IPC_RMID);
    expect(root.msgctl(0, IPC_INFO).result).toBe(2);
    root.msgctl(c, IPC_RMID);
    expect(root.msgctl(0, IPC_INFO).result).toBe(0);
    expect(root.msgctl(12345, IPC_INFO).result).toBe(0);
    cleanUp(k, root, a);
  });
});
