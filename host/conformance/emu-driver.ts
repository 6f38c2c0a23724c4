/**
 * The conformance Driver over the emulator: one emulated kernel per
 * scenario, one simulated process per actor. Root actors get the
 * capabilities this machine's root holds (requires.ts: rootActorCaps), so a
 * scenario sees the same permission answers here as on the kernel beside it.
 *
 * settle() is exact: the emulator settles every completion a call causes
 * within microtasks of that call, so once two macrotask turns have passed, a
 * promise still pending is asleep in the kernel model and only a later step
 * (or its own timeout) can wake it.
 */

import type { SimProcess, Emulator } from '../api.js';
import { IPC_CREAT, IPC_NOWAIT, IPC_PRIVATE, IPC_RMID, MSG_COPY } from '../constants.js';
import { IpcError } from '../errors.js';
import { openEmulator, type EmulatorOptions } from '../emu/index.js';
import type { ActorSpec, CallHandle, Driver, DriverOptions, Outcome } from './driver.js';
import { CallSignal, forkActorState, newActorState, runOp, SUPPORTED_OPS, UnsupportedOp, type ActorState } from './ops.js';
import { rootActorCaps } from './requires.js';

interface Actor {
  proc: SimProcess;
  state: ActorState;
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

export interface EmuDriverOptions {
  /** Passed to openEmulator (limits, clock). */
  emulator?: EmulatorOptions;
  /** Capabilities of root actors; default: this machine's root's (rootActorCaps()). */
  rootCaps?: bigint;
}

export class EmuDriver implements Driver {
  readonly backend = 'emu' as const;
  readonly settlesExactly = true;
  private kernel: Emulator | undefined;
  private readonly actors = new Map<string, Actor>();
  private readonly signals = new Map<CallHandle, CallSignal>();

  constructor(private readonly options: EmuDriverOptions = {}) {}

  async start(actors: Record<string, ActorSpec>, _options: DriverOptions): Promise<void> {
    // keys, names and paths arrive decoded: one kernel per scenario already keeps runs apart
    const kernel = await openEmulator(this.options.emulator);
    this.kernel = kernel;
    const rootCaps = this.options.rootCaps ?? rootActorCaps();
    for (const [name, spec] of Object.entries(actors)) {
      // FORMAT.md: an actor without uid runs as the runner does, which the emulator models as root
      const uid = spec.uid ?? 0;
      const gid = spec.gid ?? uid;
      const proc = kernel.spawn({ uid, gid, groups: [], ...(uid === 0 && { caps: rootCaps }) });
      this.actors.set(name, { proc, state: newActorState() });
    }
  }

  private actor(name: string): Actor {
    const a = this.actors.get(name);
    if (a === undefined) throw new Error(`emu driver: no actor ${name}`);
    return a;
  }

  pid(actor: string): number {
    return this.actor(actor).proc.pid;
  }

  call(actor: string, op: string, args: unknown[]): CallHandle {
    if (!SUPPORTED_OPS.has(op)) throw new UnsupportedOp(op);
    const a = this.actor(actor);
    const signal = new CallSignal();
    const handle: { op: string; outcome: Outcome | undefined; done: Promise<Outcome> } = {
      op,
      outcome: undefined,
      done: undefined as unknown as Promise<Outcome>,
    };
    handle.done = runOp(a.proc, op, args, a.state, { signal: signal.signal }).then(
      (value): Outcome => (handle.outcome = { ok: true, value }),
      (e: unknown): Outcome =>
        (handle.outcome =
          e instanceof IpcError ? { ok: false, errno: e.errno } : { ok: false, errno: 0, fault: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }),
    );
    void handle.done.then(() => this.signals.delete(handle));
    this.signals.set(handle, signal);
    return handle;
  }

  async settle(): Promise<void> {
    await turn();
    await turn();
  }

  async interrupt(call: CallHandle, restart: boolean): Promise<void> {
    // The backend decides what the signal does to the call: SysV calls and poll fail with
    // EINTR either way, pipe, FIFO and socket calls that have moved nothing sleep on under
    // SA_RESTART (ops.ts: CallSignal).
    try {
      this.signals.get(call)?.interrupt(restart);
    } catch (error) {
      throw new Error(`interrupt: the ${call.op}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  async fork(parent: string, child: string): Promise<void> {
    // the emulator's fork copies the descriptor table as shared open file descriptions
    const p = this.actor(parent);
    this.actors.set(child, { proc: p.proc.fork(), state: forkActorState(p.state) });
  }

  async exit(actor: string): Promise<void> {
    await this.actor(actor).proc.exit();
  }

  async close(): Promise<void> {
    // every object lives in this scenario's kernel: dropping it removes them all
    this.signals.clear();
    this.actors.clear();
    this.kernel = undefined;
  }

  /** msg_copy: asks a fresh kernel, as kref asks the real one (ENOMSG: MSG_COPY is there; ENOSYS: it is not). */
  async probe(word: string): Promise<boolean | undefined> {
    if (word !== 'msg_copy') return undefined;
    const p = (await openEmulator(this.options.emulator)).spawn();
    const q = p.msgget(IPC_PRIVATE, IPC_CREAT | 0o600);
    try {
      p.msgrcvSync(q, 1, 0, MSG_COPY | IPC_NOWAIT);
      return undefined;
    } catch (e) {
      if (e instanceof IpcError && e.code === 'ENOMSG') return true;
      if (e instanceof IpcError && e.code === 'ENOSYS') return false;
      return undefined;
    } finally {
      p.msgctl(q, IPC_RMID);
    }
  }
}
