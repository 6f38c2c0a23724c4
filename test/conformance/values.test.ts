import { describe, expect, it } from 'vitest';
import { decodeCall } from '../../host/conformance/decode.js';
import { parseJson } from '../../host/conformance/json.js';
import { ScenarioError } from '../../host/conformance/scenario-error.js';
import {
  cInt, cLong, decodeData, decodeKey, decodeSemOps, decodeSetFields, decodeTimeout, flagsValue, formatData, fsPath,
  mqName, resolveRefs, unkey,
} from '../../host/conformance/values.js';
import { IPC_CREAT, IPC_EXCL, IPC_NOWAIT, IPC_SET, IPC_STAT, MSG_EXCEPT, O_LARGEFILE, O_RDONLY } from '../../host/constants.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const ctx = { keyBase: 0x10000, mqPrefix: '/run.', dir: '/tmp/run' };

describe('flags', () => {
  it('joins names and octal modes; "0600" and "600" are both octal', () => {
    expect(flagsValue('IPC_CREAT|IPC_EXCL|0600')).toBe(BigInt(IPC_CREAT | IPC_EXCL | 0o600));
    expect(flagsValue('600')).toBe(0o600n);
    expect(flagsValue('0')).toBe(0n);
    expect(flagsValue('0o640')).toBe(0o640n);
    expect(flagsValue(' IPC_NOWAIT | MSG_EXCEPT ')).toBe(BigInt(IPC_NOWAIT | MSG_EXCEPT));
    expect(flagsValue('0x10')).toBe(16n);
    expect(flagsValue('O_RDONLY|O_LARGEFILE')).toBe(BigInt(O_RDONLY | O_LARGEFILE));
  });

  it('refuses decimal-looking tokens, unknown names and empty tokens', () => {
    expect(flagsValue('8192')).toBeUndefined();
    expect(flagsValue('IPC_CREATE')).toBeUndefined();
    expect(flagsValue('IPC_CREAT|')).toBeUndefined();
    expect(() => cInt('IPC_CREAT|BOGUS', 'flags')).toThrow(ScenarioError);
  });

  it('takes C ints modulo 2^32 once they fit 32 bits', () => {
    expect(cInt('0xffffffff', 'flags')).toBe(-1);
    expect(cInt(-5, 'id')).toBe(-5);
    expect(() => cInt(2 ** 32, 'id')).toThrow(/does not fit 32 bits/);
    expect(() => cInt(1.5, 'id')).toThrow(/integer/);
    expect(() => cInt(true, 'id')).toThrow(ScenarioError);
  });

  it('keeps C longs exact: numbers while safe, bigints beyond', () => {
    expect(cLong(-5, 'msgtyp')).toBe(-5);
    expect(cLong(9223372036854775807n, 'mtype')).toBe(9223372036854775807n);
    expect(cLong(-9223372036854775808n, 'msgtyp')).toBe(-9223372036854775808n);
    expect(cLong('0xffffffffffffffff', 'msgtyp')).toBe(-1);
    expect(() => cLong(1n << 64n, 'mtype')).toThrow(/64 bits/);
  });
});

describe('keys', () => {
  it('maps IPC_PRIVATE to 0 and 1..9999 into the run window, and back', () => {
    expect(decodeKey('IPC_PRIVATE', 0x10000)).toBe(0);
    expect(decodeKey(0, 0x10000)).toBe(0);
    expect(decodeKey(11, 0x10000)).toBe(0x10000 + 11);
    expect(unkey(0x10000 + 11, 0x10000)).toBe(11);
    expect(unkey(0, 0x10000)).toBe(0);
    expect(unkey(1234, 0x10000)).toBe(1234);
  });

  it('refuses keys outside 1..9999', () => {
    for (const k of [10000, -1, 1.5, '11', null]) expect(() => decodeKey(k, 0x10000)).toThrow(ScenarioError);
  });
});

describe('data', () => {
  it('decodes strings as UTF-8, hex and repeat forms', () => {
    expect(decodeData('héllo')).toEqual(bytes('héllo'));
    expect(decodeData({ hex: '00ff' })).toEqual(Uint8Array.of(0, 255));
    expect(decodeData({ repeat: 'ab', count: 5 })).toEqual(bytes('ababa'));
    expect(decodeData({ repeat: { hex: '01' }, count: 3 })).toEqual(Uint8Array.of(1, 1, 1));
    expect(decodeData({ repeat: 'x', count: 0 })).toEqual(new Uint8Array(0));
  });

  it('refuses malformed data', () => {
    for (const v of [{ hex: 'abc' }, { hex: 'zz' }, { repeat: '', count: 2 }, { repeat: 'a', count: -1 }, { repeat: 'a' }, 5, null, { hex: '00', x: 1 }]) {
      expect(() => decodeData(v)).toThrow(ScenarioError);
    }
  });

  it('prints data like kref: strings, "$" doubled, repeats of 32 bytes or more, hex otherwise and for "blocks"', () => {
    expect(formatData(bytes('for A'))).toBe('for A');
    expect(formatData(bytes('$q'))).toBe('$$q');
    expect(formatData(bytes('ab'.repeat(20)))).toEqual({ repeat: 'ab', count: 40 });
    expect(formatData(bytes('ab'.repeat(10)))).toBe('ab'.repeat(10));
    expect(formatData(Uint8Array.of(0, 1))).toEqual({ hex: '0001' });
    expect(formatData(bytes('blocks'))).toEqual({ hex: '626c6f636b73' });
    expect(formatData(new Uint8Array(40))).toEqual({ repeat: '\u0000', count: 40 });
    expect(formatData(Uint8Array.of(0xff, ...new Uint8Array(39)))).toEqual({ hex: 'ff' + '00'.repeat(39) });
  });
});

describe('references', () => {
  const lookup = (r: string) => {
    if (r === 'q') return 42;
    if (r === 'pid:A') return 7;
    throw new ScenarioError(`unknown name $${r}`);
  };

  it('resolves "$name" and "$pid:A" everywhere, and "$$..." is a literal', () => {
    expect(resolveRefs(['$q', '$pid:A', '$$q', { mode: '$q', x: ['$$'] }], lookup)).toEqual([42, 7, '$q', { mode: 42, x: ['$'] }]);
  });

  it('does not resolve what a name stands for', () => {
    expect(resolveRefs('$q', () => '$q')).toBe('$q');
  });

  it('refuses an unknown name', () => {
    expect(() => resolveRefs(['$nope'], lookup)).toThrow(/unknown name \$nope/);
  });
});

describe('other values', () => {
  it('timeouts: ms, raw timespecs kept as they are, null only where allowed', () => {
    expect(decodeTimeout(100, false)).toBe(100);
    expect(decodeTimeout({ sec: -1, nsec: 1_000_000_000 }, false)).toEqual({ sec: -1, nsec: 1_000_000_000 });
    expect(decodeTimeout(null, true)).toBeNull();
    expect(() => decodeTimeout(null, false)).toThrow(ScenarioError);
    expect(() => decodeTimeout({ sec: 1 }, false)).toThrow(ScenarioError);
  });

  it('semaphore operations fit struct sembuf', () => {
    expect(decodeSemOps([[0, -1], [1, 1, 'SEM_UNDO|IPC_NOWAIT']])).toEqual([[0, -1, 0], [1, 1, 0x1000 | IPC_NOWAIT]]);
    expect(() => decodeSemOps([[65536, 1]])).toThrow(/struct sembuf/);
    expect(() => decodeSemOps([[0]])).toThrow(ScenarioError);
  });

  it('IPC_SET objects take flags strings for mode and a nested perm object', () => {
    expect(decodeSetFields({ mode: '0640', msg_qbytes: 4 }, ['msg_qbytes', 'uid', 'gid', 'mode'], 'msg_perm')).toEqual({ mode: 0o640, msg_qbytes: 4 });
    expect(decodeSetFields({ msg_perm: { uid: 5 } }, ['msg_qbytes', 'uid', 'gid', 'mode'], 'msg_perm')).toEqual({ uid: 5 });
    expect(() => decodeSetFields({ cuid: 1 }, ['uid'], 'msg_perm')).toThrow(/cannot set/);
    // struct ipc_perm's ids are 32-bit: (uid_t)-1 passes as the C int -1
    expect(decodeSetFields({ uid: 4294967295, gid: -1, msg_qbytes: 4294967296 }, ['msg_qbytes', 'uid', 'gid'], 'msg_perm')).toEqual({ uid: -1, gid: -1, msg_qbytes: 4294967296 });
  });

  it('queue names get the prefix; paths stay in the run directory', () => {
    expect(mqName('/q', '/run.')).toBe('/run.q');
    expect(mqName('q', '/run.')).toBe('q');
    expect(fsPath('f', '/tmp/run')).toBe('/tmp/run/f');
    expect(() => fsPath('/etc/passwd', '/tmp/run')).toThrow(ScenarioError);
    expect(() => fsPath('a/../../x', '/tmp/run')).toThrow(ScenarioError);
  });
});

describe('decodeCall', () => {
  it('decodes the message-queue calls, optional flags defaulting to 0', () => {
    expect(decodeCall('msgget', [11, 'IPC_CREAT|0600'], ctx)).toEqual([0x10000 + 11, IPC_CREAT | 0o600]);
    expect(decodeCall('msgget', ['IPC_PRIVATE'], ctx)).toEqual([0, 0]);
    expect(decodeCall('msgsnd', [3, 1, 'a'], ctx)).toEqual([3, 1, bytes('a'), 0]);
    expect(decodeCall('msgrcv', [3, 64, -2, 'IPC_NOWAIT'], ctx)).toEqual([3, 64, -2, IPC_NOWAIT]);
    expect(decodeCall('msgrcv', [3, -1, 0], ctx)).toEqual([3, -1, 0, 0]);
    expect(decodeCall('msgctl', [3, 'IPC_STAT'], ctx)).toEqual([3, IPC_STAT]);
    expect(decodeCall('msgctl', [3, 99], ctx)).toEqual([3, 99]);
    expect(decodeCall('msgctl', [3, 'IPC_SET', { msg_qbytes: 4 }], ctx)).toEqual([3, IPC_SET, { msg_qbytes: 4 }]);
  });

  it('refuses wrong argument counts and misused commands', () => {
    expect(() => decodeCall('msgsnd', [3, 1], ctx)).toThrow(/expects 3 to 4 arguments, got 2/);
    expect(() => decodeCall('msgctl', [3, 'IPC_SET'], ctx)).toThrow(/IPC_SET needs/);
    expect(() => decodeCall('msgctl', [3, 'IPC_STAT', {}], ctx)).toThrow(/no third argument/);
    expect(() => decodeCall('msgctl', [3, 'NOT_A_COMMAND'], ctx)).toThrow(/unknown command/);
    expect(() => decodeCall('frobnicate', [], ctx)).toThrow(/unknown operation/);
    expect(() => decodeCall('msgrcv', [3, 2 ** 30, 0], ctx)).toThrow(/larger than this runner supports/);
  });

  it('decodes the other kinds too, so misuse is a scenario error on every backend', () => {
    expect(decodeCall('open', ['f', 'O_RDONLY'], ctx)).toEqual(['/tmp/run/f', 0, 0o666]);
    expect(decodeCall('mq_open', ['/q', 'O_CREAT|O_RDWR', { mq_maxmsg: 2, mq_msgsize: 8 }], ctx)).toEqual(['/run.q', 0o102, 0o600, { mq_maxmsg: 2, mq_msgsize: 8 }]);
    expect(decodeCall('semctl', [1, 0, 'SETALL', [1, 65537]], ctx)).toEqual([1, 0, 17, [1, 1]]);
    expect(() => decodeCall('fcntl', [3, 'F_SETFL'], ctx)).toThrow(/needs a value/);
    expect(() => decodeCall('mq_notify', [3, 'SIGEV_THREAD'], ctx)).toThrow(/SIGEV_THREAD/);
  });
});

describe('parseJson', () => {
  it('parses like JSON.parse', () => {
    const text = '{"a": [1, -2.5, 3e2, true, false, null, "x\\n\\u00e9\\ud83d\\ude00"], "b": {}}';
    expect(parseJson(text)).toEqual(JSON.parse(text));
  });

  it('keeps integers beyond 2^53 exact as bigints', () => {
    expect(parseJson('[9223372036854775807, -9223372036854775808, 9007199254740991, 1e300]')).toEqual([
      9223372036854775807n, -9223372036854775808n, 9007199254740991, 1e300,
    ]);
  });

  it('treats "__proto__" as data', () => {
    const v = parseJson('{"__proto__": {"x": 1}}') as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
  });

  it('refuses what JSON refuses, with the place', () => {
    for (const bad of ['{"a": 1,}', '[1 2]', "{'a': 1}", '01', '"\\x"', '[1] 2', '', '{"a"}', '"a\nb"', 'NaN']) {
      expect(() => parseJson(bad), bad).toThrow(SyntaxError);
    }
    expect(() => parseJson('{\n  "a": tru\n}')).toThrow(/line 2, column 8/);
  });
});
