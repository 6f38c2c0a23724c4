/**
 * NativeDriver: runs a scenario's actors as real child processes on this
 * machine's kernel. Each actor is an agent (agent.ts) started with
 * child_process.spawn and the actor's uid/gid; calls, interrupts and exits
 * travel as frames over a socket that is the agent's descriptor 3
 * (agent-protocol.ts), read by the agent's channel thread so that its main
 * thread can sleep in a call.
 *
 * Credentials: an actor with `uid` gets that uid and `gid` (default: the
 * uid); libuv sets the gid, then the uid, and empties the supplementary
 * groups when it sets either. Actors without credentials run as the runner
 * does; when the runner is root they still get its uid/gid passed explicitly
 * so that libuv empties their supplementary groups too (FORMAT.md). The
 * agent reports what the kernel gave it and start() checks it.
 *
 * Settling (FORMAT.md): a pending call counts as settled once it is at least
 * the settle window old and the agent sees a thread of its process asleep in
 * that call's system call (agent-threads.ts); for an op without a known
 * syscall signature, the window alone decides. settle() polls until every
 * pending call is answered or settled, and fails after a bound (limits)
 * rather than hang.
 *
 * Threads (FORMAT.md): an agent makes a call on its main thread when that
 * thread is free, else on another thread of its process, so an actor's
 * first call is its main thread's, and msg_lrpid after a pipelined receive
 * (ipc/msg.c: pipelined_send() records the receiving thread) is the actor's
 * pid, as kref finds it.
 *
 * fork: Node cannot fork(2). The "child" is a new agent with the parent's
 * uid/gid. That equals a real fork only while actors hold no per-process
 * IPC state: a real child would inherit the parent's descriptors (pipe, FIFO
 * and socket ends, POSIX queue descriptors, sharing their open file
 * descriptions) and its shared memory attachments (shm_nattch would grow,
 * shm_lpid would be the parent's), and would be the parent's child in the
 * process tree (it is the runner's here). SysV message queues have no such
 * state, so for them the difference cannot be observed. Pipes will need the
 * descriptors passed at the same numbers (spawn's stdio array) or a native
 * fork helper; shared memory, a native fork helper.
 *
 * Clean-up (close): kill every agent with SIGKILL and wait for it to be
 * reaped, then, from the runner's own process, IPC_RMID every id a msgget
 * or semget of the run returned and every queue or set whose key lies in
 * the run's window (found with *_STAT_ANY over the indexes up to IPC_INFO's
 * answer).
 * What it cannot do: a queue made by IPC_PRIVATE whose id never reached the
 * driver (its agent died between the syscall and the answer) is not found.
 */

import { spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Process } from '../api.js';
import { IPC_CREAT, IPC_INFO, IPC_PRIVATE, IPC_RMID, MSG_COPY, MSG_STAT_ANY, SEM_STAT_ANY } from '../constants.js';
import { ERRNO, IpcError } from '../errors.js';
import { openNative } from '../native/index.js';
import { agentCommand } from './agent-launch.js';
import { frame, FrameReader, type CallState, type FromAgent, type ToAgent } from './agent-protocol.js';
import type { ActorSpec, CallHandle, Driver, DriverOptions, Outcome } from './driver.js';
import { SUPPORTED_OPS, UnsupportedOp } from './ops.js';

/**
 * Bounds on every wait, so that a broken agent fails a step instead of
 * hanging the run. The defaults stay under the runner's own bound on a
 * driver call (its time limit + 5 s, 10 s by default) so that the driver's
 * more precise message is the one reported.
 */
export interface NativeDriverLimits {
  /** An agent's start, up to its first message. */
  startMs: number;
  /** settle(): a pending call answers or falls asleep. */
  settleMs: number;
  /** An agent answers a probe or an interrupt. */
  answerMs: number;
  /** An agent told to exit is gone (else it is killed and the step fails). */
  exitMs: number;
  /** A SIGKILLed agent is reaped. */
  killMs: number;
}

const DEFAULT_LIMITS: NativeDriverLimits = { startMs: 8_000, settleMs: 5_000, answerMs: 5_000, exitMs: 5_000, killMs: 5_000 };

/** Poll period while waiting for calls to settle. */
const POLL_MS = 2;
/** Bytes of an agent's stderr kept for the report when it dies. */
const STDERR_TAIL = 4096;
/** Scenario keys are 1..9999 (FORMAT.md); the run's kernel keys are keyBase + that. */
const KEY_SPAN = 9999;

/** Whether `promise` settles within `ms` (its timer never outlives the race). */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

class NativeCall implements CallHandle {
  outcome: Outcome | undefined = undefined;
  /** Its actor exited while it was pending: it will never answer. */
  abandoned = false;
  readonly started = performance.now();
  readonly done: Promise<Outcome>;
  settle!: (outcome: Outcome) => void;

  constructor(readonly actor: Agent, readonly id: number, readonly op: string) {
    this.done = new Promise((resolve) => {
      this.settle = (outcome) => {
        this.outcome = outcome;
        resolve(outcome);
      };
    });
  }
}

type AgentState = 'starting' | 'running' | 'exiting' | 'exited';

class Agent {
  state: AgentState = 'starting';
  /** The driver ended it (exit step, close, failed start): its exit is no failure. */
  leaving = false;
  readonly pending = new Map<number, NativeCall>();
  /** Answers awaited from the agent, by "kind:id". */
  readonly waiters = new Map<string, (message: FromAgent) => void>();
  /** Resolves once the process has been reaped. */
  readonly exited: Promise<void>;
  exitStatus = '';
  /** Its state when the process ended. */
  stateAtExit: AgentState | undefined;
  stderr = '';

  constructor(
    readonly name: string,
    readonly spec: ActorSpec,
    readonly child: ChildProcess,
    private readonly channel: Socket,
    private readonly answerMs: number,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitStatus = signal !== null ? `killed by ${signal}` : `exit code ${code}`;
        this.stateAtExit = this.state;
        this.state = 'exited';
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

  send(message: ToAgent): void {
    // A dead agent's socket is closed: its death is reported through 'exit', not here.
    if (!this.channel.destroyed) this.channel.write(frame(message));
  }

  /** Sends and waits for the answer the agent gives under `key`; rejects on its death or silence. */
  request(message: ToAgent, key: string): Promise<FromAgent> {
    return new Promise((resolve, reject) => {
      if (this.state === 'exited') {
        reject(new Error(`actor ${this.name} has exited (${this.describeDeath()})`));
        return;
      }
      const done = () => {
        clearTimeout(timer);
        this.child.off('exit', onExit);
        this.waiters.delete(key);
      };
      const onExit = () => {
        done();
        reject(new Error(`actor ${this.name} died before answering (${this.describeDeath()})`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`actor ${this.name} did not answer ${message.t} within ${this.answerMs} ms`));
      }, this.answerMs);
      this.child.once('exit', onExit);
      this.waiters.set(key, (answer) => {
        done();
        resolve(answer);
      });
      this.send(message);
    });
  }

  describeDeath(): string {
    const tail = this.stderr.trim();
    return `pid ${this.pid}, ${this.exitStatus || 'still running'}${tail ? `; stderr: ${tail}` : ''}`;
  }
}

/** The ids each kind's get call returned during the run. */
interface Created {
  msgget: Set<number>;
  semget: Set<number>;
}

/** How close() finds and removes one kind's objects. */
interface Kind {
  name: string;
  ids: ReadonlySet<number>;
  rmid(id: number): unknown;
  highest(): number;
  statAny(index: number): { id: number; key: number };
}

export class NativeDriver implements Driver {
  readonly backend = 'native' as const;
  private readonly agents = new Map<string, Agent>();
  private readonly calls = new Map<number, NativeCall>();
  /** Every id a msgget / semget of this run returned: removed in close(). */
  private readonly created: Created = { msgget: new Set(), semget: new Set() };
  private options: DriverOptions | undefined;
  private nextId = 1;
  private nextSeq = 1;
  /** An actor died unexpectedly: every later step fails with this. */
  private failure: Error | undefined;
  private closed = false;
  private runnerProcess: Process | undefined;
  private readonly limits: NativeDriverLimits;

  constructor(limits: Partial<NativeDriverLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  async start(actors: Record<string, ActorSpec>, options: DriverOptions): Promise<void> {
    this.options = options;
    // allSettled: every spawn has registered its child before start() fails, so close() finds them all.
    const started = await Promise.allSettled(Object.entries(actors).map(([name, spec]) => this.spawn(name, spec)));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  pid(actor: string): number {
    return this.agent(actor).pid;
  }

  call(actor: string, op: string, args: unknown[]): CallHandle {
    const agent = this.agent(actor);
    if (!SUPPORTED_OPS.has(op)) throw new UnsupportedOp(op);
    this.throwIfFailed();
    if (agent.state !== 'running') throw new Error(`actor ${actor} has exited; it cannot call ${op}`);
    const call = new NativeCall(agent, this.nextId++, op);
    this.calls.set(call.id, call);
    agent.pending.set(call.id, call);
    agent.send({ t: 'call', id: call.id, op, args });
    return call;
  }

  async settle(): Promise<void> {
    const settleMs = this.options?.settleMs ?? 50;
    const limit = performance.now() + this.limits.settleMs;
    for (;;) {
      this.throwIfFailed();
      const pending = this.pendingCalls();
      if (pending.length === 0) return;
      const youngest = Math.max(...pending.map((c) => c.started));
      const window = youngest + settleMs - performance.now();
      if (window > 0) {
        await sleep(window);
        continue;
      }
      const states = await this.sleepStates(pending);
      this.throwIfFailed();
      const awake = pending.filter((c) => c.outcome === undefined && states.get(c) === 'awake');
      if (awake.length === 0) return;
      if (performance.now() > limit) {
        const which = awake.map((c) => `${c.actor.name}'s ${c.op} (call ${c.id})`).join(', ');
        throw new Error(`${which} neither answered nor slept in the kernel within ${this.limits.settleMs} ms`);
      }
      await sleep(POLL_MS);
    }
  }

  async interrupt(call: CallHandle, _restart: boolean): Promise<void> {
    const c = this.own(call);
    if (c.outcome !== undefined) throw new Error(`interrupt: ${c.actor.name}'s ${c.op} has already answered`);
    if (c.abandoned) throw new Error(`interrupt: ${c.actor.name}'s ${c.op} was abandoned when its actor exited`);
    // SysV calls answer EINTR to any signal whose handler runs, SA_RESTART or not
    // (ipc/msg.c: -ERESTARTNOHAND), so the addon's cancellation (the AbortSignal)
    // is exact for them and `restart` changes nothing. Pipe, FIFO, socket and POSIX
    // queue calls restart under SA_RESTART: they will need a real signal delivered
    // with or without it, and come with those kinds.
    const answer = await c.actor.request({ t: 'interrupt', id: c.id }, `interrupted:${c.id}`);
    if (answer.t === 'interrupted' && !answer.found && c.outcome === undefined) {
      throw new Error(`interrupt: ${c.actor.name}'s agent has no pending call ${c.id}`);
    }
  }

  async fork(parent: string, child: string): Promise<void> {
    const p = this.agent(parent);
    if (this.agents.has(child)) throw new Error(`fork: actor ${child} already exists`);
    if (p.state !== 'running') throw new Error(`fork: actor ${parent} has exited`);
    await this.spawn(child, p.spec);
  }

  async exit(actor: string): Promise<void> {
    const agent = this.agent(actor);
    this.throwIfFailed();
    if (agent.state !== 'running') throw new Error(`exit: actor ${actor} has already exited`);
    agent.state = 'exiting';
    agent.leaving = true;
    agent.send({ t: 'exit' });
    const inTime = await within(agent.exited, this.limits.exitMs);
    this.abandon(agent);
    if (!inTime) {
      agent.child.kill('SIGKILL');
      await within(agent.exited, this.limits.killMs);
      throw new Error(`exit: actor ${actor} did not exit within ${this.limits.exitMs} ms of being told to; killed`);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const errors: string[] = [];
    await Promise.all([...this.agents.values()].map(async (agent) => {
      agent.leaving = true;
      if (agent.state !== 'exited') agent.child.kill('SIGKILL');
      if (!(await within(agent.exited, this.limits.killMs))) {
        errors.push(`actor ${agent.name} (pid ${agent.pid}) was not reaped ${this.limits.killMs} ms after SIGKILL`);
      }
      this.abandon(agent);
    }));
    try {
      this.removeObjects(errors);
    } catch (error) {
      errors.push(`removing the run's objects: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (errors.length > 0) throw new Error(`close: ${errors.join('; ')}`);
  }

  /**
   * Answers the `requires` words only the backend can: `msg_copy` is probed as
   * the kernel answers MSG_COPY|IPC_NOWAIT on a fresh private queue (ENOMSG:
   * there; ENOSYS: no CONFIG_CHECKPOINT_RESTORE). Other words: undefined.
   */
  async probe(word: string): Promise<boolean | undefined> {
    if (word !== 'msg_copy') return undefined;
    const self = this.runner();
    const q = self.msgget(IPC_PRIVATE, IPC_CREAT | 0o600);
    try {
      self.msgrcvSync(q, 1, 0, MSG_COPY);
      return true;
    } catch (error) {
      if (error instanceof IpcError && error.errno === ERRNO.ENOMSG) return true;
      if (error instanceof IpcError && error.errno === ERRNO.ENOSYS) return false;
      throw error;
    } finally {
      self.msgctl(q, IPC_RMID);
    }
  }

  private async spawn(name: string, spec: ActorSpec): Promise<void> {
    const command = await agentCommand();
    // close() ran meanwhile (the runner gave up on start()): no child may appear after it.
    if (this.closed) throw new Error(`actor ${name}: the driver was closed while it started`);
    const credentials = credentialsFor(spec);
    const env = { ...process.env };
    // The runner's own loader options (a test framework's) are not the agent's.
    delete env.NODE_OPTIONS;
    let child: ChildProcess;
    try {
      // Descriptor 3: a socketpair end, the agent's channel (agent-protocol.ts).
      child = spawnProcess(process.execPath, [...command.execArgv, command.modulePath], {
        stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
        cwd: '/',
        env,
        ...credentials,
      });
    } catch (error) {
      // libuv fails setuid/setgid (EPERM for a runner that is not root) synchronously.
      throw new Error(`actor ${name} could not be started with ${JSON.stringify(credentials)}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const channel = child.stdio[3] as Socket;
    const agent = new Agent(name, spec, child, channel, this.limits.answerMs);
    this.agents.set(name, agent);
    child.on('error', (error) => {
      if (!agent.leaving) this.fail(new Error(`actor ${name}: ${error.message}`));
    });
    const reader = new FrameReader();
    channel.on('data', (chunk: Buffer) => {
      let messages: unknown[];
      try {
        messages = reader.push(chunk);
      } catch (error) {
        if (!agent.leaving) this.fail(new Error(`actor ${name}: ${error instanceof Error ? error.message : String(error)}`));
        return;
      }
      for (const message of messages) this.onMessage(agent, message as FromAgent);
    });
    // Reset or closed: the agent died, which its 'exit' reports.
    channel.on('error', () => {});
    child.once('exit', () => {
      if (agent.leaving || agent.stateAtExit !== 'running') return;
      // Give stderr's last chunk a turn to arrive before the report quotes it.
      setImmediate(() => {
        const reason = `actor ${name} died unexpectedly (${agent.describeDeath()})`;
        this.fail(new Error(reason));
        for (const call of agent.pending.values()) call.settle({ ok: false, errno: 0, fault: reason });
        agent.pending.clear();
      });
    });

    const ready = await new Promise<FromAgent>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`actor ${name} did not start within ${this.limits.startMs} ms`)), this.limits.startMs);
      const onExit = () => {
        clearTimeout(timer);
        setImmediate(() => reject(new Error(`actor ${name} failed to start (${agent.describeDeath()})`)));
      };
      child.once('exit', onExit);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`actor ${name} could not be started: ${error.message}`));
      });
      agent.waiters.set('ready', (message) => {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve(message);
      });
    }).catch((error: unknown) => {
      agent.leaving = true;
      child.kill('SIGKILL');
      throw error;
    });
    if (ready.t !== 'ready') throw new Error(`actor ${name}: unexpected first message ${ready.t}`);
    const expected = { uid: credentials.uid ?? process.getuid?.(), gid: credentials.gid ?? process.getgid?.() };
    const wrong: string[] = [];
    if (expected.uid !== undefined && ready.uid !== expected.uid) wrong.push(`uid ${ready.uid}, not ${expected.uid}`);
    if (expected.gid !== undefined && ready.gid !== expected.gid) wrong.push(`gid ${ready.gid}, not ${expected.gid}`);
    if (credentials.uid !== undefined && ready.groups.length > 0) wrong.push(`supplementary groups ${ready.groups.join(',')}`);
    if (wrong.length > 0) {
      agent.leaving = true;
      child.kill('SIGKILL');
      throw new Error(`actor ${name} runs with ${wrong.join(', ')}`);
    }
    agent.state = 'running';
  }

  private onMessage(agent: Agent, message: FromAgent): void {
    if (agent.state === 'exiting' || agent.state === 'exited') return;
    switch (message.t) {
      case 'done': {
        const call = this.calls.get(message.id);
        if (call === undefined || call.outcome !== undefined) return;
        agent.pending.delete(call.id);
        if (message.ok && typeof message.value === 'number') this.created[call.op as keyof Created]?.add(message.value);
        call.settle(message.ok ? { ok: true, value: message.value } : { ok: false, errno: message.errno });
        return;
      }
      case 'fault': {
        const call = this.calls.get(message.id);
        if (call === undefined || call.outcome !== undefined) return;
        agent.pending.delete(call.id);
        call.settle({ ok: false, errno: 0, fault: `${message.name}: ${message.message}` });
        return;
      }
      case 'ready':
        this.answer(agent, 'ready', message);
        return;
      case 'interrupted':
        this.answer(agent, `interrupted:${message.id}`, message);
        return;
      case 'sleeping':
        this.answer(agent, `sleeping:${message.seq}`, message);
    }
  }

  private answer(agent: Agent, key: string, message: FromAgent): void {
    const waiter = agent.waiters.get(key);
    agent.waiters.delete(key);
    waiter?.(message);
  }

  /** Asks each agent with pending calls which of them sleep in the kernel. */
  private async sleepStates(pending: NativeCall[]): Promise<Map<NativeCall, CallState>> {
    const byAgent = new Map<Agent, NativeCall[]>();
    for (const c of pending) byAgent.set(c.actor, [...(byAgent.get(c.actor) ?? []), c]);
    const states = new Map<NativeCall, CallState>();
    await Promise.all([...byAgent].map(async ([agent, calls]) => {
      const seq = this.nextSeq++;
      const answer = await agent.request({ t: 'probe', seq, ids: calls.map((c) => c.id) }, `sleeping:${seq}`);
      if (answer.t !== 'sleeping') return;
      // A call the agent no longer has has answered: its 'done' came first on the ordered channel.
      for (const c of calls) states.set(c, answer.states[c.id] ?? 'awake');
    }));
    return states;
  }

  private pendingCalls(): NativeCall[] {
    return [...this.calls.values()].filter((c) => c.outcome === undefined && !c.abandoned);
  }

  /** FORMAT.md: an exiting actor's blocked calls are abandoned; they never answer. */
  private abandon(agent: Agent): void {
    for (const call of agent.pending.values()) call.abandoned = true;
    agent.pending.clear();
  }

  /**
   * Removes every queue and semaphore set the run made: the ids its gets
   * returned, and whatever has a key in the run's window (found with
   * *_STAT_ANY, which needs no permission, over the indexes up to what
   * IPC_INFO answers as the highest in use).
   */
  private removeObjects(errors: string[]): void {
    const self = this.runner();
    // statAny answers an index's full id and key without a permission check.
    const kinds: readonly Kind[] = [
      {
        name: 'msgctl',
        ids: this.created.msgget,
        rmid: (id) => self.msgctl(id, IPC_RMID),
        highest: () => self.msgctl(0, IPC_INFO).result,
        statAny: (index) => {
          const st = self.msgctl(index, MSG_STAT_ANY);
          return { id: st.result, key: st.msg_perm.key };
        },
      },
      {
        name: 'semctl',
        ids: this.created.semget,
        rmid: (id) => self.semctl(id, 0, IPC_RMID),
        highest: () => self.semctl(0, 0, IPC_INFO).result,
        statAny: (index) => {
          const st = self.semctl(index, 0, SEM_STAT_ANY);
          return { id: st.result, key: st.sem_perm.key };
        },
      },
    ];
    const keyBase = this.options?.keyBase;
    for (const kind of kinds) {
      const remove = (id: number) => {
        try {
          kind.rmid(id);
        } catch (error) {
          // EINVAL: already removed (by the scenario or just now through its key).
          if (!(error instanceof IpcError && error.errno === ERRNO.EINVAL)) {
            errors.push(`${kind.name}(${id}, IPC_RMID): ${error instanceof Error ? error.message : String(error)}`);
          }
        }
      };
      for (const id of kind.ids) remove(id);
      if (keyBase === undefined) continue;
      const highest = kind.highest();
      for (let index = 0; index <= highest; index++) {
        let found: { id: number; key: number };
        try {
          found = kind.statAny(index);
        } catch {
          continue; // an unused index
        }
        const k = found.key - keyBase;
        if (k >= 1 && k <= KEY_SPAN) remove(found.id);
      }
    }
  }

  /** The runner's own process on the kernel, for clean-up and probes. */
  private runner(): Process {
    if (this.runnerProcess === undefined) this.runnerProcess = openNative().self();
    return this.runnerProcess;
  }

  private agent(name: string): Agent {
    const agent = this.agents.get(name);
    if (agent === undefined) throw new Error(`no actor named ${name}`);
    return agent;
  }

  private own(call: CallHandle): NativeCall {
    if (!(call instanceof NativeCall) || this.calls.get(call.id) !== call) throw new Error('interrupt: not a call of this driver');
    return call;
  }

  private fail(error: Error): void {
    this.failure ??= error;
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

/** The spawn options that give an actor its credentials (see the header). */
function credentialsFor(spec: ActorSpec): { uid?: number; gid?: number } {
  const root = process.getuid?.() === 0;
  if (spec.uid !== undefined) return { uid: spec.uid, gid: spec.gid ?? spec.uid };
  if (spec.gid !== undefined) return { uid: process.getuid?.(), gid: spec.gid };
  return root ? { uid: 0, gid: process.getgid?.() ?? 0 } : {};
}
