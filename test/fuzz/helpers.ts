/**
 * Drivers and lanes the fuzzer's tests run against: a scripted driver whose
 * answers a test fabricates, an emulator driver with a planted bug, and a
 * lane wrapper that records which queue ids each run created, so a test can
 * check that none is left.
 */

import { IPC_STAT } from '../../host/constants.js';
import type { ActorSpec, CallHandle, Driver, DriverOptions, Outcome } from '../../host/conformance/driver.js';
import { EmuDriver } from '../../host/conformance/emu-driver.js';
import type { CreatedId, LaneKind } from '../../host/fuzz/lane.js';

/** What a scripted driver answers to a call: an outcome now, or a sleep that a later answer may end. */
export interface Scripted {
  outcome?: Outcome;
  /** Calls (by their 0-based order on this driver) that end when this one is made. */
  wakes?: Array<[call: number, outcome: Outcome]>;
}

type Responder = (call: { index: number; actor: string; op: string; args: unknown[] }) => Scripted;

interface MutableHandle extends CallHandle {
  outcome: Outcome | undefined;
  resolve(o: Outcome): void;
}

function handleFor(op: string): MutableHandle {
  let resolve!: (o: Outcome) => void;
  const done = new Promise<Outcome>((r) => {
    resolve = r;
  });
  const h: MutableHandle = {
    op,
    outcome: undefined,
    done,
    resolve(o) {
      h.outcome = o;
      resolve(o);
    },
  };
  return h;
}

/** A driver that answers what `respond` says; pids are 100 + the actor's position plus `pidBase`. */
export class ScriptedDriver implements Driver {
  readonly backend = 'emu' as const;
  readonly settlesExactly = true;
  private readonly handles: MutableHandle[] = [];
  private actors: string[] = [];

  constructor(private readonly respond: Responder, private readonly pidBase = 0) {}

  async start(actors: Record<string, ActorSpec>, _options: DriverOptions): Promise<void> {
    this.actors = Object.keys(actors);
  }

  pid(actor: string): number {
    return this.pidBase + 100 + this.actors.indexOf(actor);
  }

  call(actor: string, op: string, args: unknown[]): CallHandle {
    const h = handleFor(op);
    const answer = this.respond({ index: this.handles.length, actor, op, args });
    this.handles.push(h);
    if (answer.outcome !== undefined) h.resolve(answer.outcome);
    for (const [i, o] of answer.wakes ?? []) this.handles[i]!.resolve(o);
    return h;
  }

  async settle(): Promise<void> {}

  async interrupt(call: CallHandle): Promise<void> {
    (call as MutableHandle).resolve({ ok: false, errno: 4 });
  }

  async fork(): Promise<void> {
    throw new Error('no fork here');
  }

  async exit(): Promise<void> {
    throw new Error('no exit here');
  }

  async close(): Promise<void> {}
}

/** A lane over fresh drivers from `make`. */
export function laneOf(label: string, make: () => Driver): LaneKind {
  return {
    label,
    async acquire(actors, options) {
      const d = make();
      await d.start(actors, options);
      return d;
    },
    async release(d) {
      await d.close();
    },
    async close() {},
  };
}

/**
 * The emulator with one planted bug: IPC_STAT of a queue that has ever
 * accepted a message of type 3 reports one message more than it holds.
 */
export class WrongDriver extends EmuDriver {
  private readonly typed = new Set<number>();
  /** Our handles → the emulator driver's, which interrupt() must be given. */
  private readonly inner = new Map<CallHandle, CallHandle>();

  override call(actor: string, op: string, args: unknown[]): CallHandle {
    const inner = super.call(actor, op, args);
    const h: { op: string; outcome: Outcome | undefined; done: Promise<Outcome> } = { op, outcome: undefined, done: undefined as never };
    this.inner.set(h, inner);
    h.done = inner.done.then((o) => {
      if (o.ok && op === 'msgsnd' && args[1] === 3) this.typed.add(args[0] as number);
      if (o.ok && op === 'msgctl' && args[1] === IPC_STAT && this.typed.has(args[0] as number)) {
        const v = o.value as { msg_qnum: number };
        o = { ok: true, value: { ...v, msg_qnum: v.msg_qnum + 1 } };
      }
      h.outcome = o;
      return o;
    });
    return h;
  }

  override interrupt(call: CallHandle, restart: boolean): Promise<void> {
    return super.interrupt(this.inner.get(call) ?? call, restart);
  }
}

/** Wraps a lane so that every id a run created is recorded when the run gives its driver back. */
export function recording(kind: LaneKind): LaneKind & { ids: CreatedId[] } {
  const ids: CreatedId[] = [];
  return {
    ...kind,
    ids,
    async release(driver, created, pending, made) {
      ids.push(...created);
      await kind.release(driver, created, pending, made);
    },
  };
}
