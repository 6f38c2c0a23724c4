/**
 * FORMAT.md `requires`: the conditions under which a scenario applies on a
 * backend. A word that does not hold, or is unknown, skips the scenario with
 * the reason. The emulator models a root runner on the current kernel: it
 * can always run other uids, meets every `linux` comparison, and its root
 * actors hold the capabilities this machine's root holds.
 */

import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import type { BackendName } from '../api.js';
import { CAP_IPC_OWNER, CAP_SYS_ADMIN, CAP_SYS_RESOURCE } from '../constants.js';
import type { ActorSpec } from './scenario.js';

const CAP_WORDS: Readonly<Record<string, number>> = {
  cap_ipc_owner: CAP_IPC_OWNER,
  cap_sys_admin: CAP_SYS_ADMIN,
  cap_sys_resource: CAP_SYS_RESOURCE,
};

/** Every capability Linux 6.x defines (CAP_LAST_CAP is 40, CAP_CHECKPOINT_RESTORE). */
const ALL_CAPS = (1n << 41n) - 1n;

function statusField(name: string): bigint | undefined {
  try {
    const m = new RegExp(`^${name}:\\s*([0-9a-fA-F]+)$`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? BigInt('0x' + m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function runnerIsRoot(): boolean {
  return typeof process.geteuid === 'function' && process.geteuid() === 0;
}

/**
 * The capabilities a root actor holds, as a CapEff mask: a root runner's own
 * CapEff (containers withhold some: CAP_SYS_RESOURCE here); for a non-root
 * runner the bounding set, which is what root could hold on this machine;
 * all of them where there is no /proc.
 */
export function rootActorCaps(): bigint {
  return statusField(runnerIsRoot() ? 'CapEff' : 'CapBnd') ?? ALL_CAPS;
}

/** Compares a kernel release ("6.18.44-fc") with a `linux` word's version on the components given only. */
export function compareRelease(have: string, op: string, want: string): boolean {
  const wanted = want.split('.').map(Number);
  const got = (/^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(have) ?? []).slice(1, 1 + wanted.length).map((x) => Number(x ?? 0));
  while (got.length < wanted.length) got.push(0);
  let cmp = 0;
  for (let i = 0; i < wanted.length && cmp === 0; i++) cmp = Math.sign(got[i]! - wanted[i]!);
  switch (op) {
    case '>=': return cmp >= 0;
    case '>': return cmp > 0;
    case '<=': return cmp <= 0;
    case '<': return cmp < 0;
    default: return cmp === 0;
  }
}

const LINUX_WORD = /^linux\s*(>=|<=|==|>|<)\s*(\d+(?:\.\d+){0,2})$/;

/** What decides the words on one backend. */
export interface RequireContext {
  backend: BackendName;
  /** The driver's probe (msg_copy), when it has one. */
  probe?: (word: string) => Promise<boolean | undefined>;
}

/** The reason to skip the scenario here, or undefined when every word holds. */
export async function checkRequires(words: readonly string[], actors: Record<string, ActorSpec>, ctx: RequireContext): Promise<string | undefined> {
  const emu = ctx.backend === 'emu';
  const root = emu || runnerIsRoot();
  for (const word of words) {
    if (word === 'root') {
      if (!root) return 'requires root (the runner is not root, so it cannot run actors as other uids)';
    } else if (word === 'nonroot') {
      if (root) return emu ? 'requires nonroot (the emulator runs actors as root)' : 'requires nonroot (the runner is root)';
    } else if (Object.hasOwn(CAP_WORDS, word)) {
      if (!root || !((rootActorCaps() >> BigInt(CAP_WORDS[word]!)) & 1n)) return `requires ${word} (root actors here do not hold it)`;
    } else if (word === 'msg_copy') {
      const has = ctx.probe ? await ctx.probe(word) : undefined;
      if (has === false) return 'requires msg_copy (MSG_COPY is not available: no CONFIG_CHECKPOINT_RESTORE)';
      if (has === undefined) return `requires msg_copy (the ${ctx.backend} backend cannot tell whether MSG_COPY is available)`;
    } else {
      const m = LINUX_WORD.exec(word);
      if (m === null) return `unknown requirement ${JSON.stringify(word)}`;
      // the emulator models the current kernel: every version condition holds there
      if (!emu && !compareRelease(release(), m[1]!, m[2]!)) return `requires ${word} (kernel is ${release()})`;
    }
  }
  if (!root) {
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    for (const [name, a] of Object.entries(actors)) {
      const wantUid = a.uid ?? uid;
      const wantGid = a.gid ?? (a.uid !== undefined ? a.uid : gid);
      if (wantUid !== uid || wantGid !== gid) return `actor ${name} needs uid ${wantUid} gid ${wantGid}: the runner is not root`;
    }
  }
  return undefined;
}
