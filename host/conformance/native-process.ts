/**
 * An actor's process as the native driver sees it: one the driver spawned
 * (its child, which it reaps), or one a fork step had an agent spawn (a
 * grandchild or deeper, reaped by its parent agent, or by init once that
 * parent has exited, as any orphan is).
 */

import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { constants } from 'node:os';
import type { Channel } from './native-channel.js';

/** Bytes of an agent's stderr kept for the report when it dies. */
const STDERR_TAIL = 4096;
/** Poll period while a forked process whose channel has closed finishes exiting. */
const EXIT_POLL_MS = 2;

export interface ActorProcess {
  readonly pid: number;
  /**
   * Resolves once the process has ended: every descriptor of it closed, its
   * exit work done. For the driver's child, once reaped; for a forked one,
   * once a zombie or gone (its reaper is its parent, not the driver).
   */
  readonly exited: Promise<void>;
  /** How it ended ("exit code 1", "killed by SIGKILL"), or "still running". */
  status(): string;
  /** The last of what it wrote to stderr. */
  stderrTail(): string;
  /** SIGKILL, unless it has already ended (a forked pid may since have been reused). */
  kill(): void;
}

/** An agent the driver started with child_process.spawn. */
export class SpawnedProcess implements ActorProcess {
  readonly exited: Promise<void>;
  private exitStatus = '';
  private stderr = '';

  constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitStatus = signal !== null ? `killed by ${signal}` : `exit code ${code}`;
        resolve();
      });
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-STDERR_TAIL);
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  status(): string {
    return this.exitStatus || 'still running';
  }

  stderrTail(): string {
    return this.stderr;
  }

  kill(): void {
    if (this.exitStatus === '') this.child.kill('SIGKILL');
  }
}

/**
 * An agent started by another agent for a fork step. The driver cannot
 * wait for it (not its child): its end is seen as its channel closing, then
 * /proc showing it a zombie with no thread left but its leader, or gone.
 * The pid is told apart from a later process that reuses it by its start
 * time (proc(5): stat field 22). Its stderr is its parent's (agent-fork.ts),
 * so reports quote that one's tail.
 */
export class ForkedProcess implements ActorProcess {
  readonly exited: Promise<void>;
  private exitStatus = '';
  /** Its start time, read while it was known to be alive (undefined: it was already gone). */
  private readonly startTime: string | undefined;

  constructor(
    readonly pid: number,
    channel: Channel,
    private readonly stderrOf: () => string,
  ) {
    this.startTime = procStat(pid)?.[19];
    this.exited = new Promise((resolve) => {
      channel.socket.once('close', () => {
        void this.finish().then(resolve);
      });
    });
  }

  status(): string {
    return this.exitStatus || 'still running';
  }

  stderrTail(): string {
    return this.stderrOf();
  }

  kill(): void {
    if (this.exitStatus !== '' || this.stat() === undefined) return;
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // ESRCH: ended meanwhile
    }
  }

  /**
   * Resolves once its parent has reaped it (true), or false after `ms`. Only
   * a living parent agent reaps promptly; an orphan waits for init.
   */
  async reaped(ms: number): Promise<boolean> {
    const limit = performance.now() + ms;
    while (this.stat() !== undefined) {
      if (performance.now() > limit) return false;
      await sleep(EXIT_POLL_MS);
    }
    return true;
  }

  /** Its stat fields from the state on, or undefined once it is gone (reaped, its pid perhaps reused). */
  private stat(): string[] | undefined {
    const fields = procStat(this.pid);
    return fields === undefined || fields[19] !== this.startTime ? undefined : fields;
  }

  /** Waits for the process to finish exiting, and notes how it ended. */
  private async finish(): Promise<void> {
    for (;;) {
      const fields = this.stat();
      if (fields === undefined) {
        // its parent agent reaped it first: how it ended is that agent's to know
        this.exitStatus = 'ended (reaped by its parent)';
        return;
      }
      // The leader of a thread group is a zombie as soon as ITS thread has exited; another
      // thread may still be in do_exit(), where the last put of the shared file table
      // closes descriptors (the deferred __fput()s run in exit_task_work()). Non-leader
      // threads leave /proc/PID/task only after that (exit_notify() → release_task()).
      if ((fields[0] === 'Z' || fields[0] === 'X') && threads(this.pid) <= 1) {
        // proc(5): the last field is the exit status as waitpid reports it
        this.exitStatus = describeWaitStatus(Number(fields[fields.length - 1]));
        return;
      }
      await sleep(EXIT_POLL_MS);
    }
  }
}

/** /proc/PID/stat's fields from the state (field 3) on, or undefined where there is no such process. */
function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may hold spaces and parentheses: the fields after it follow the last ')'
    return stat.slice(stat.lastIndexOf(')') + 2).trim().split(' ');
  } catch {
    return undefined;
  }
}

/** The threads /proc lists for process `pid` (0 once it is gone). */
function threads(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/task`).length;
  } catch {
    return 0;
  }
}

function describeWaitStatus(status: number): string {
  if (!Number.isInteger(status)) return 'ended';
  const signal = status & 0x7f;
  if (signal === 0) return `exit code ${(status >> 8) & 0xff}`;
  const name = Object.entries(constants.signals).find(([, n]) => n === signal)?.[0];
  return `killed by ${name ?? `signal ${signal}`}`;
}
