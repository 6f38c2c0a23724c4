/**
 * Fork on the native backend, the agent's half (runs on its channel thread).
 * Node cannot fork(2), so a fork step starts a new agent process from this
 * one with the descriptors the scenario's calls made here passed at the same
 * numbers (child_process.spawn's stdio array: libuv dup2()s each into place
 * between its fork and exec). A dup shares the open file description, as
 * fork's copy of the table does, so O_NONBLOCK, the offset and the pipe's
 * reader/writer counts are shared; "$r" names the same thing in both.
 *
 * Which descriptors: those the scenario's pipe, open and socketpair calls
 * returned and no close has ended (tracked from every outcome, on this
 * thread, which sees them all), still open per /proc/self/fdinfo. Node's own
 * descriptors (its event loop, the channel, the addon's) are not the actor's
 * and stay behind, as a real child would not see a runner's either.
 *
 * FD_CLOEXEC is a flag of the descriptor, not of the open file: fork keeps
 * it, but libuv clears it on a descriptor it installs. So the list carries
 * each one's flag (fdinfo shows it as O_CLOEXEC in `flags`) and the child
 * sets it again before it answers `ready` (restoreCloexec).
 */

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { F_SETFD, O_CLOEXEC } from '../constants.js';
import type { Process } from '../api.js';
import { frame, INHERITED_FDS_ENV, type InheritedFd, type ToAgent } from './agent-protocol.js';

/** fcntl F_SETFD's one flag (include/uapi/asm-generic/fcntl.h). */
const FD_CLOEXEC = 1;
/** The ops whose result is one new descriptor or a pair of them. */
const MAKES_DESCRIPTORS: ReadonlySet<string> = new Set(['pipe', 'open', 'socketpair']);

/** The descriptors this actor's scenario calls hold: what a fork passes on. */
export class ScenarioDescriptors {
  private readonly fds = new Set<number>();

  constructor(inherited: readonly InheritedFd[] = []) {
    for (const { fd } of inherited) this.fds.add(fd);
  }

  /** Follows one successful call's effect on the table. */
  note(op: string, args: readonly unknown[], value: unknown): void {
    if (MAKES_DESCRIPTORS.has(op)) {
      for (const fd of Array.isArray(value) ? value : [value]) if (typeof fd === 'number') this.fds.add(fd);
    } else if (op === 'close' && typeof args[0] === 'number') {
      this.fds.delete(args[0]);
    }
  }

  /** The ones still open, in order, with their FD_CLOEXEC flag. */
  open(): InheritedFd[] {
    const out: InheritedFd[] = [];
    for (const fd of [...this.fds].sort((a, b) => a - b)) {
      let info: string;
      try {
        info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
      } catch {
        this.fds.delete(fd); // closed some other way (nothing the scenario can do today)
        continue;
      }
      const flags = /^flags:\s*([0-7]+)$/m.exec(info)?.[1];
      out.push({ fd, cloexec: flags !== undefined && (Number.parseInt(flags, 8) & O_CLOEXEC) !== 0 });
    }
    return out;
  }
}

/** The descriptors a forked agent was given, from its environment (none for an actor the driver started). */
export function inheritedDescriptors(): InheritedFd[] {
  const raw = process.env[INHERITED_FDS_ENV];
  if (raw === undefined || raw === '') return [];
  const list: unknown = JSON.parse(raw);
  if (!Array.isArray(list)) throw new Error(`${INHERITED_FDS_ENV} is not a list`);
  return list.map((x: { fd?: unknown; cloexec?: unknown }) => {
    if (!Number.isInteger(x?.fd) || typeof x.cloexec !== 'boolean') throw new Error(`${INHERITED_FDS_ENV}: bad entry ${JSON.stringify(x)}`);
    return { fd: x.fd as number, cloexec: x.cloexec };
  });
}

/** In the child: sets FD_CLOEXEC again where the parent had it (libuv cleared it). */
export function restoreCloexec(self: Process, inherited: readonly InheritedFd[]): void {
  for (const { fd, cloexec } of inherited) if (cloexec) self.fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/**
 * Starts the fork's child: connects to the driver, introduces the connection
 * with the token, and spawns the agent with it as descriptor 3 and `fds` at
 * their own numbers. Answers the child's pid once it has been exec'd.
 * The child inherits this process's credentials (uid, gid, the emptied
 * supplementary groups) and stderr; libuv reaps it when it ends.
 */
export async function spawnFork(request: Extract<ToAgent, { t: 'fork' }>, fds: readonly InheritedFd[]): Promise<number> {
  const channel = connect(request.address);
  try {
    await once(channel, 'connect');
    // Written before the child exists, so nothing of the child's can come first.
    await new Promise<void>((resolve, reject) => channel.write(frame({ t: 'hello', token: request.token }), (e) => (e ? reject(e) : resolve())));
    const stdio: ('ignore' | number | typeof channel)[] = ['ignore', 'ignore', 2, channel];
    for (const { fd } of fds) {
      while (stdio.length < fd) stdio.push('ignore');
      stdio[fd] = fd;
    }
    const child = spawn(process.execPath, [...request.command.execArgv, request.command.modulePath], {
      stdio,
      cwd: '/',
      env: { ...process.env, [INHERITED_FDS_ENV]: JSON.stringify(fds) },
    });
    await Promise.race([once(child, 'spawn'), once(child, 'error').then(([e]) => Promise.reject(e))]);
    if (child.pid === undefined) throw new Error('the child has no pid');
    return child.pid;
  } finally {
    // The child has its own copy (spawn returns after exec); ours would keep the channel open past its death.
    channel.destroy();
  }
}
