/**
 * What the scenario runner asks of a backend. The runner parses a scenario,
 * decodes its values (flags to numbers, small keys to this run's keys, data
 * to bytes) and drives one Driver per scenario; a Driver owns the actors
 * (simulated processes on emu, child processes on native) and every object
 * they create, and removes them in close() whatever happened.
 */

import type { BackendName } from '../api.js';

/** An actor's credentials as the scenario gives them (gid defaults to uid). */
export interface ActorSpec {
  uid?: number;
  gid?: number;
}

/**
 * How a call ended: its normalized result, or Linux's errno. `fault` is set
 * (errno then 0) when no kernel answer exists because the backend itself
 * failed (an emulator trap, a dead agent): the runner reports it as a runner
 * error, never as an errno.
 */
export type Outcome =
  | { ok: true; value: unknown }
  | { ok: false; errno: number; fault?: string };

/** A call under way. `outcome` is set once it has ended. */
export interface CallHandle {
  readonly op: string;
  outcome: Outcome | undefined;
  /** Settles with the outcome; never rejects. */
  readonly done: Promise<Outcome>;
}

export interface DriverOptions {
  /** Native settle window in ms (FORMAT.md: default 50). The emulator knows exactly and ignores it. */
  settleMs: number;
  /** Added to every small key (1..9999) to make this run's kernel keys. */
  keyBase: number;
  /** Prefix put before POSIX queue names ("/name" becomes prefix + "name"). */
  mqPrefix: string;
  /** A fresh directory for relative paths (FIFOs, sockets). */
  dir: string;
}

export interface Driver {
  readonly backend: BackendName;
  /** Starts the actors named in the scenario, in order. */
  start(actors: Record<string, ActorSpec>, options: DriverOptions): Promise<void>;
  /** The process id of an actor (for "$pid:A"). */
  pid(actor: string): number;
  /**
   * Starts `op` with decoded arguments as `actor`. The handle's outcome is
   * the op's normalized result (see ops.ts) or errno. Unsupported ops end
   * with an Error thrown from call(), which fails the scenario.
   */
  call(actor: string, op: string, args: unknown[]): CallHandle;
  /**
   * Resolves once every call under way has either ended or is asleep in the
   * kernel (the emulator knows; native waits the settle window and checks).
   */
  settle(): Promise<void>;
  /** Delivers a signal whose handler runs (with SA_RESTART or not) to the thread of a pending call. */
  interrupt(call: CallHandle, restart: boolean): Promise<void>;
  /** `child` starts as a fork of `parent`. */
  fork(parent: string, child: string): Promise<void>;
  /** The actor exits; resolves once all of its exit clean-up has happened. */
  exit(actor: string): Promise<void>;
  /** Ends every actor and removes every object the run created. */
  close(): Promise<void>;
  /**
   * Whether settle() is exact: a call still pending after it is asleep, and
   * only its own timeout or a later step can wake it (the emulator). The
   * runner then fails a call expected to complete without waiting out its
   * time limit. Absent: false.
   */
  readonly settlesExactly?: boolean;
  /**
   * Answers a `requires` word this backend must find out for itself
   * (`msg_copy`): true or false, or undefined when it cannot tell. May be
   * called before start(). Absent: every such word is "cannot tell".
   */
  probe?(word: string): Promise<boolean | undefined>;
}
