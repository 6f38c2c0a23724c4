/**
 * Permissions (assembly/ipc/perm.ts): ipcperms() classes by uid/cuid and
 * gid/cgid/supplementary groups, CAP_IPC_OWNER, and the owner-or-creator
 * rule for IPC_SET and IPC_RMID (CAP_SYS_ADMIN, not CAP_IPC_OWNER).
 */

import { describe, expect, it } from 'vitest';
import {
  CAP_IPC_OWNER, CAP_SYS_ADMIN, IPC_CREAT, IPC_NOWAIT, IPC_PRIVATE, IPC_RMID, IPC_SET, IPC_STAT, MSG_STAT, MSG_STAT_ANY,
} from '../../host/constants.js';
import { BUILDS, cleanUp, expectErrno, kernel, stat, text, user } from './helpers.js';

const cap = (n: number): bigint => 1n << BigInt(n);

describe.each(BUILDS)('permissions (%s build)', (build) => {
  it('owner, group and other classes: the first class that applies decides, even if another grants more', async () => {
    const { k, root } = await kernel(build);
    const q = root.msgget(IPC_PRIVATE, IPC_CREAT | 0o066);
    root.msgctl(q, IPC_SET, { uid: 1000, gid: 2000 });
    const owner = user(k, { uid: 1000, gid: 1000 });
    const group = user(k, { uid: 1001, gid: 2000 });
    const other = user(k, { uid: 1002, gid: 3000 });
    // owner bits are 0: the owner is refused though group and other may
    expectErrno(() => owner.msgsndSync(q, 1, text('x')), 'EACCES');
    group.msgsndSync(q, 1, text('g'));
    other.msgsndSync(q, 1, text('o'));
    expectErrno(() => owner.msgrcvSync(q, 8, 0), 'EACCES');
    expect(group.msgrcvSync(q, 8, 0).data).toEqual(text('g'));
    cleanUp(k, root, q);
  });

  it('the creator keeps owner-class access and the right to change and remove through cuid/cgid after giving the queue away', async () => {
    const { k, root } = await kernel(build);
    const creator = user(k, { uid: 1000, gid: 1000 });
    const q = creator.msgget(IPC_PRIVATE, IPC_CREAT | 0o600);
    creator.msgctl(q, IPC_SET, { uid: 1500, gid: 2500 });
    expect(stat(creator, q).msg_perm).toMatchObject({ uid: 1500, gid: 2500, cuid: 1000, cgid: 1000 });
    creator.msgsndSync(q, 1, text('still mine'));
    // a member of the creator's group is in the group class through cgid
    const cgroup = user(k, { uid: 1777, gid: 1000 });
    expectErrno(() => cgroup.msgsndSync(q, 1, text('x')), 'EACCES'); // group bits are 0
    creator.msgctl(q, IPC_SET, { mode: 0o620 });
    cgroup.msgsndSync(q, 1, text('cgid'));
    expect(stat(creator, q).msg_qnum).toBe(2);
    creator.msgctl(q, IPC_RMID);
    cleanUp(k, root);
  });

  it('a supplementary group counts like the effective gid, for cgid and for gid', async () => {
    const { k, root } = await kernel(build);
    const q = root.msgget(IPC_PRIVATE, IPC_CREAT | 0o640);
    root.msgctl(q, IPC_SET, { gid: 4000 });
    const viaGid = user(k, { uid: 1000, gid: 1000, groups: [7, 4000] });
    const viaCgid = user(k, { uid: 1001, gid: 1001, groups: [0] }); // cgid is root's gid 0
    const outsider = user(k, { uid: 1002, gid: 1002, groups: [5, 6] });
    root.msgsndSync(q, 1, text('a'));
    expect(viaGid.msgctl(q, IPC_STAT).msg_qnum).toBe(1);
    expect(viaCgid.msgctl(q, IPC_STAT).msg_qnum).toBe(1);
    expectErrno(() => outsider.msgctl(q, IPC_STAT), 'EACCES');
    expectErrno(() => viaGid.msgsndSync(q, 1, text('w')), 'EACCES'); // group may read only
    cleanUp(k, root, q);
  });

  it('CAP_IPC_OWNER grants any access but not IPC_SET or IPC_RMID; CAP_SYS_ADMIN grants those', async () => {
    const { k, root } = await kernel(build);
    const q = root.msgget(IPC_PRIVATE, IPC_CREAT | 0o000);
    const ipcOwner = k.spawn({ uid: 1000, caps: cap(CAP_IPC_OWNER) });
    const sysAdmin = k.spawn({ uid: 1001, caps: cap(CAP_SYS_ADMIN) });
    const rootWithout = k.spawn({ uid: 0, caps: 0n });
    ipcOwner.msgsndSync(q, 3, text('x'));
    expect(ipcOwner.msgrcvSync(q, 8, 0).mtype).toBe(3);
    expectErrno(() => ipcOwner.msgctl(q, IPC_SET, { mode: 0o666 }), 'EPERM');
    expectErrno(() => ipcOwner.msgctl(q, IPC_RMID), 'EPERM');
    // root without capabilities is still the owner (uid 0 == cuid) but mode 0 refuses even the owner
    expectErrno(() => rootWithout.msgsndSync(q, 1, text('x')), 'EACCES');
    rootWithout.msgctl(q, IPC_SET, { mode: 0o600 });
    expectErrno(() => sysAdmin.msgsndSync(q, 1, text('x')), 'EACCES');
    sysAdmin.msgctl(q, IPC_SET, { mode: 0o606 });
    sysAdmin.msgsndSync(q, 1, text('x'));
    sysAdmin.msgctl(q, IPC_RMID);
    cleanUp(k, root);
  });

  it('a denied IPC_RMID fails with EPERM and leaves the queue; a bad id is reported before the right to change', async () => {
    const { k, root } = await kernel(build);
    const q = root.msgget(IPC_PRIVATE, IPC_CREAT | 0o666);
    root.msgsndSync(q, 1, text('kept'));
    const other = user(k);
    expectErrno(() => other.msgctl(q, IPC_RMID), 'EPERM');
    expectErrno(() => other.msgctl(q, IPC_SET, { mode: 0o600 }), 'EPERM');
    expectErrno(() => other.msgctl(q + 1, IPC_RMID), 'EINVAL');
    expectErrno(() => other.msgctl(q + (1 << 15), IPC_SET, { mode: 0 }), 'EINVAL');
    expect(stat(root, q)).toMatchObject({ msg_qnum: 1, msg_perm: { mode: 0o666 } });
    cleanUp(k, root, q);
  });

  it('IPC_STAT and MSG_STAT need read permission; MSG_STAT_ANY does not; msgrcv with MSG_COPY needs read too', async () => {
    const { k, root } = await kernel(build);
    const q = root.msgget(IPC_PRIVATE, IPC_CREAT | 0o622);
    root.msgsndSync(q, 1, text('x'));
    const other = user(k);
    expectErrno(() => other.msgctl(q, IPC_STAT), 'EACCES');
    expectErrno(() => other.msgctl(q, MSG_STAT), 'EACCES');
    expect(other.msgctl(q, MSG_STAT_ANY)).toMatchObject({ result: q, msg_qnum: 1 });
    expectErrno(() => other.msgrcvSync(q, 8, 0, 0o40000 | IPC_NOWAIT), 'EACCES');
    other.msgsndSync(q, 2, text('y')); // write is granted to others
    cleanUp(k, root, q);
  });

  it('IPC_SET changes only uid, gid and the low nine mode bits; an unmappable uid or gid is EINVAL and changes nothing', async () => {
    const { k, root } = await kernel(build);
    const q = root.msgget(IPC_PRIVATE, IPC_CREAT | 0o600);
    root.msgctl(q, IPC_SET, { mode: 0o7777 });
    expect(stat(root, q).msg_perm.mode).toBe(0o777);
    expectErrno(() => root.msgctl(q, IPC_SET, { uid: -1 }), 'EINVAL');
    expectErrno(() => root.msgctl(q, IPC_SET, { gid: 0xffffffff, mode: 0o600 }), 'EINVAL');
    expect(stat(root, q).msg_perm).toMatchObject({ uid: 0, gid: 0, mode: 0o777 });
    cleanUp(k, root, q);
  });
});
