import { describe, expect, it } from 'vitest';
import type { Outcome } from '../../host/conformance/driver.js';
import { checkOutcome, matchValue, normalizeKeys, Plain, project, show, showInLine, type MatchContext } from '../../host/conformance/match.js';
import { ScenarioError } from '../../host/conformance/scenario-error.js';
import { ERRNO } from '../../host/errors.js';

const bytes = (s: string) => new TextEncoder().encode(s);

const ctx: MatchContext = {
  resolve(ref) {
    const names: Record<string, unknown> = { q: 65536, 'pid:A': 101, 'pid:B': 102, got: bytes('hi'), msg: { mtype: 1, data: bytes('x') } };
    if (ref in names) return names[ref];
    throw new ScenarioError(`unknown name $${ref}`);
  },
  actorOfPid: (pid) => ({ 101: 'A', 102: 'B' })[pid],
};

const ok = (value: unknown): Outcome => ({ ok: true, value });
const err = (code: keyof typeof ERRNO): Outcome => ({ ok: false, errno: ERRNO[code] });
const m = (exp: unknown, act: unknown) => matchValue(exp, act, ctx);

describe('matchValue', () => {
  it('compares numbers exactly, bigints included', () => {
    expect(m(0, 0)).toBe(true);
    expect(m(1, 0)).toBe(false);
    expect(m(9223372036854775807n, 9223372036854775807n)).toBe(true);
    expect(m(2 ** 53, 2n ** 53n)).toBe(true);
    expect(m(9223372036854775807n, 9223372036854775806n)).toBe(false);
    expect(m(true, 1)).toBe(false);
    expect(m(null, 0)).toBe(false);
  });

  it('matches objects partially and nested, arrays exactly', () => {
    const stat = { msg_qnum: 1, msg_perm: { uid: 0, mode: 0o600, key: 11 } };
    expect(m({ msg_qnum: 1 }, stat)).toBe(true);
    expect(m({ msg_perm: { mode: '0600' } }, stat)).toBe(true);
    expect(m({ msg_perm: { mode: '0640' } }, stat)).toBe(false);
    expect(m({ msg_lspid: 0 }, stat)).toBe(false);
    expect(m([1, 2], [1, 2])).toBe(true);
    expect(m([1], [1, 2])).toBe(false);
    expect(m({ a: 1 }, [1])).toBe(false);
  });

  it('reads a flags string as the number it stands for where the result is a number', () => {
    expect(m('IPC_PRIVATE', 0)).toBe(true);
    expect(m('O_RDONLY|O_LARGEFILE', 0o100000)).toBe(true);
    expect(m('POLLIN|POLLRDNORM', 0x41)).toBe(true);
    expect(m('not a flag', 0)).toBe(false);
  });

  it('compares data as bytes, in every data form', () => {
    expect(m('hi', bytes('hi'))).toBe(true);
    expect(m({ hex: '6869' }, bytes('hi'))).toBe(true);
    expect(m({ repeat: 'h', count: 2 }, bytes('hh'))).toBe(true);
    expect(m('hi', bytes('ho'))).toBe(false);
    expect(m('$$q', bytes('$q'))).toBe(true);
    expect(m('$got', bytes('hi'))).toBe(true);
    expect(m({ mtype: 1, data: 'x' }, { mtype: 1, data: bytes('x') })).toBe(true);
    expect(() => m(5, bytes('x'))).toThrow(ScenarioError);
  });

  it('resolves "$name" and "$pid:A"; a "$$" string is literal', () => {
    expect(m('$q', 65536)).toBe(true);
    expect(m({ msg_lspid: '$pid:A' }, { msg_lspid: 101 })).toBe(true);
    expect(m({ msg_lspid: '$pid:A' }, { msg_lspid: 102 })).toBe(false);
    expect(m('$msg', { mtype: 1, data: bytes('x') })).toBe(true);
    expect(m('$$pid:A', '$pid:A')).toBe(true);
    expect(() => m('$nope', 1)).toThrow(/unknown name/);
  });

  it('applies matchers anywhere: nonzero, not', () => {
    expect(m({ nonzero: true }, 5)).toBe(true);
    expect(m({ nonzero: true }, 0)).toBe(false);
    expect(m({ nonzero: false }, 0)).toBe(true);
    expect(m({ nonzero: true }, 'x')).toBe(false);
    expect(m({ not: '$q' }, 65537)).toBe(true);
    expect(m({ not: '$q' }, 65536)).toBe(false);
    expect(m([1, { not: 1 }], [1, 2])).toBe(true);
    expect(m({ not: 'abd' }, bytes('abc'))).toBe(true);
    expect(m({ msg_qnum: { not: 0 } }, { msg_qnum: 0 })).toBe(false);
    expect(() => m({ not: { errno: 'EINVAL' } }, 0)).toThrow(/not an errno/);
  });
});

describe('checkOutcome', () => {
  it('absent expect: any success', () => {
    expect(checkOutcome(undefined, ok(3), ctx)).toBeUndefined();
    expect(checkOutcome(undefined, err('EACCES'), ctx)).toEqual({ expected: new Plain('success'), actual: { errno: 'EACCES' } });
  });

  it('errno by number, aliases included', () => {
    expect(checkOutcome({ errno: 'ENOMSG' }, err('ENOMSG'), ctx)).toBeUndefined();
    expect(checkOutcome({ errno: 'EWOULDBLOCK' }, err('EAGAIN'), ctx)).toBeUndefined();
    expect(checkOutcome({ errno: 'ENOMSG' }, err('E2BIG'), ctx)).toEqual({ expected: { errno: 'ENOMSG' }, actual: { errno: 'E2BIG' } });
    expect(checkOutcome({ errno: 'ENOMSG' }, ok({ mtype: 1, data: bytes('a') }), ctx)).toEqual({
      expected: { errno: 'ENOMSG' },
      actual: { mtype: 1, data: 'a' },
    });
  });

  it('a value or matcher needs success: { not } at the top too', () => {
    expect(checkOutcome({ not: 1 }, ok(0), ctx)).toBeUndefined();
    expect(checkOutcome({ not: 1 }, err('EINVAL'), ctx)).toEqual({ expected: { not: 1 }, actual: { errno: 'EINVAL' } });
  });

  it('shows a differing object restricted to the fields expected', () => {
    const stat = { msg_qnum: 2, msg_cbytes: 9, msg_lspid: 101, msg_perm: { mode: 0o600, uid: 0 } };
    expect(checkOutcome({ msg_qnum: 1, msg_perm: { mode: '0640' }, msg_x: 1 }, ok(stat), ctx)).toEqual({
      expected: { msg_qnum: 1, msg_perm: { mode: '0640' }, msg_x: 1 },
      actual: { msg_qnum: 2, msg_perm: { mode: '0600' }, msg_x: new Plain('<missing>') },
    });
  });
});

describe('show', () => {
  it('prints modes in octal, pids as "$pid:A", data as a scenario writes it', () => {
    expect(show({ msg_lspid: 101, msg_lrpid: 0, msg_qnum: 101, msg_perm: { mode: 0o640 }, data: bytes('$x') }, ctx)).toEqual({
      msg_lspid: '$pid:A',
      msg_lrpid: 0,
      msg_qnum: 101,
      msg_perm: { mode: '0640' },
      data: '$$x',
    });
    expect(show(999, ctx, 'msg_lspid')).toBe(999);
  });

  it('projects only objects that are not matchers or data forms', () => {
    expect(project({ a: 1, b: 2 }, { a: 0 })).toEqual({ a: 1 });
    expect(project({ a: 1 }, { not: { a: 1 } })).toEqual({ a: 1 });
    expect(project('x', { hex: '00' })).toBe('x');
  });

  it('prints lines with exact bigints and plain text as it is', () => {
    expect(showInLine({ mtype: 9223372036854775807n, data: 'a' })).toBe('{"mtype": 9223372036854775807, "data": "a"}');
    expect(showInLine(new Plain('blocks'))).toBe('blocks');
  });
});

describe('normalizeKeys', () => {
  it('maps *_perm.key back to the scenario key and leaves other fields alone', () => {
    const base = 0x40000;
    expect(normalizeKeys({ key: base + 5, msg_perm: { key: base + 5, uid: base + 5 }, result: 3 }, base)).toEqual({
      key: base + 5,
      msg_perm: { key: 5, uid: base + 5 },
      result: 3,
    });
    expect(normalizeKeys({ msg_perm: { key: 0 } }, base)).toEqual({ msg_perm: { key: 0 } });
  });
});
