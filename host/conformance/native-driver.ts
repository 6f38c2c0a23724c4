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
 * Interrupts (FORMAT.md): one signal to the call's thread, its handler
 * installed with SA_RESTART or not (interruptThread(tid, restart) for the
 * main thread, the AbortSignal with reason { restart: true } on the addon's
 * pool), and the kernel decides what the call does. After that settle()
 * lets a settle window pass again, so the call has answered or is asleep
 * again before the next step. A pool call that went on sleeping after an
 * SA_RESTART interrupt takes a later interrupt only if the backend listens
 * to the new signal the reason carries (ops.ts: CallSignal); else that step
 * fails, saying so, rather than pretend.
 *
 * fork: Node cannot fork(2). On a fork step the driver asks the PARENT's
 * agent to start the child agent itself (agent-fork.ts): child_process.spawn
 * with a stdio array that puts each descriptor the parent's scenario calls
 * made, and has not closed, at the same number in the child. A descriptor
 * installed that way shares its open file description with the parent's,
 * exactly as fork(2)'s copy of the table does: O_NONBLOCK, the offset, the
 * pipe's reader and writer counts (a close in one process is not the last
 * while the other holds the end) and FIFO rendezvous are shared; "$r" names
 * the same end in both. The child runs with the parent's credentials (it
 * inherits them: uid, gid, the emptied supplementary groups) and its channel
 * is a connection the parent opens to the driver's listening socket
 * (native-fork.ts: an abstract Unix socket, introduced by a one-time token)
 * and passes as descriptor 3. "$pid:B" is the child's pid.
 * How it differs from fork(2):
 * - Nothing of the parent's memory or threads is copied: the child is a
 *   fresh agent. Calls pending in the parent stay the parent's (FORMAT.md
 *   wants exactly that); the child has none.
 * - The child is the parent agent's child (the driver's grandchild or
 *   deeper), so the process tree is a real fork's; its parent agent reaps it
 *   (init does, once the parent has exited, as for any orphan).
 * - Only the scenario's descriptors are passed, not the agent's own (Node's
 *   event loop, the channel): the child cannot see them, as a real child
 *   would see no runner's. FD_CLOEXEC, which libuv clears on a descriptor it
 *   installs, is set again in the child where the parent had it.
 * - The parent agent handles SIGCHLD (libuv reaps its children that way)
 *   where a C program has no handler, and a handler that runs would end a
 *   partial write early. Linux sends the child's SIGCHLD to the thread that
 *   forked it (kernel/fork.c: copy_process() makes it the real_parent), the
 *   agent's channel thread, so the actor's calls are not disturbed.
 * - SysV state is what fork(2) leaves too: no SEM_UNDO adjustments in the
 *   child, queues and sets shared by id. Shared memory attachments and POSIX
 *   queue descriptors are not carried (this driver has neither kind yet).
 *
 * Clean-up (close): kill every forked agent with SIGKILL, the latest fork
 * first so that each dies while its parent agent is alive to reap it, and
 * wait for it to end; then the agents the driver started, and wait for
 * them to be reaped; then, from the runner's own process, IPC_RMID every id a msgget
 * or semget of the run returned and every queue or set whose key lies in
 * the run's window (found with *_STAT_ANY over the indexes up to IPC_INFO's
 * answer). FIFOs live in the run's directory (DriverOptions.dir), which the
 * runner makes per scenario and removes after close().
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
import type { CallState, FromAgent, ToAgent } from './agent-protocol.js';
import type { ActorSpec, CallHandle, Driver, DriverOptions, Outcome } from './driver.js';
import { Channel } from './native-channel.js';
import { ForkServer } from './native-fork.js';
import { ForkedProcess, SpawnedProcess, type ActorProcess } from './native-process.js';
import { SUPPORTED_OPS, UnsupportedOp } from './ops.js';

/**
 * Bounds on every wait, so that a broken agent fails a step instead of
 * hanging the run. The defaults stay under the runner's own bound on a
 * driver call (its time limit + 5 s, 10 s by default) so that the driver's
 * more precise message is the one reported.
 */
export interface NativeDriverLimits {
  /** An agent's start (a fork's included), up to its first message. */
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
  /**
   * When it started, or was last interrupted: settle() lets a settle window
   * pass from then, so that an interrupted call has taken the signal (and
   * answered, or gone back to sleep under SA_RESTART) before the next step.
   */
  since = performance.now();
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
  /** Resolves once the process has ended (ActorProcess.exited), after its state became 'exited'. */
  readonly exited: Promise<void>;
  /** Its state when the process ended. */
  stateAtExit: AgentState | undefined;
  /** Called once when the process has ended. */
  private readonly onExit = new Set<() => void>();

  constructor(
    readonly name: string,
    readonly spec: ActorSpec,
    readonly proc: ActorProcess,
    readonly channel: Channel,
    /** Forked agents: the order of their forks (close() ends the latest first); 0 for those the driver started. */
    readonly forkOrder: number,
    /** Forked agents: the agent that started it, which reaps it. */
    readonly parent: Agent | undefined,
    private readonly answerMs: number,
  ) {
    this.exited = proc.exited.then(() => {
      this.stateAtExit = this.state;
      this.state = 'exited';
      for (const f of this.onExit) f();
      this.onExit.clear();
    });
  }

  get pid(): number {
    return this.proc.pid;
  }

  send(message: ToAgent): void {
    this.channel.send(message);
  }

  /** Sends and waits for the answer the agent gives under `key`; rejects on its death or silence. */
  request(message: ToAgent, key: string, ms = this.answerMs): Promise<FromAgent> {
    return new Promise((resolve, reject) => {
      if (this.state === 'exited') {
        reject(new Error(`actor ${this.name} has exited (${this.describeDeath()})`));
        return;
      }
      const done = () => {
        clearTimeout(timer);
        this.onExit.delete(onExit);
        this.waiters.delete(key);
      };
      const onExit = () => {
        done();
        reject(new Error(`actor ${this.name} died before answering (${this.describeDeath()})`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`actor ${this.name} did not answer ${message.t} within ${ms} ms`));
      }, ms);
      this.onExit.add(onExit);
      this.waiters.set(key, (answer) => {
        done();
        resolve(answer);
      });
      this.send(message);
    });
  }

  describeDeath(): string {
    const tail = this.proc.stderrTail().trim();
    return `pid ${this.pid}, ${this.proc.status()}${tail ? `; stderr: ${tail}` : ''}`;
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
  /** Where forked agents' channels arrive; listening from the first fork. */
  private readonly forks = new ForkServer();
  private forkCount = 0;

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
      const youngest = Math.max(...pending.map((c) => c.since));
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

  async interrupt(call: CallHandle, restart: boolean): Promise<void> {
    const c = this.own(call);
    if (c.outcome !== undefined) throw new Error(`interrupt: ${c.actor.name}'s ${c.op} has already answered`);
    if (c.abandoned) throw new Error(`interrupt: ${c.actor.name}'s ${c.op} was abandoned when its actor exited`);
    // One signal, whose handler was installed with SA_RESTART or not, to the call's thread: the
    // kernel decides (SysV calls and poll answer EINTR either way, ipc/msg.c: -ERESTARTNOHAND;
    // pipe, FIFO and socket calls that moved nothing restart, fs/pipe.c: -ERESTARTSYS).
    const answer = await c.actor.request({ t: 'interrupt', id: c.id, restart }, `interrupted:${c.id}`);
    if (answer.t === 'interrupted' && answer.refused !== undefined) throw new Error(`interrupt: ${c.actor.name}'s ${c.op}: ${answer.refused}`);
    if (answer.t === 'interrupted' && !answer.found && c.outcome === undefined) {
      throw new Error(`interrupt: ${c.actor.name}'s agent has no pending call ${c.id}`);
    }
    c.since = performance.now();
  }

  async fork(parent: string, child: string): Promise<void> {
    const p = this.agent(parent);
    this.throwIfFailed();
    if (this.agents.has(child)) throw new Error(`fork: actor ${child} already exists`);
    if (p.state !== 'running') throw new Error(`fork: actor ${parent} has exited`);
    const command = await agentCommand();
    const address = await this.forks.listen();
    const { token, channel } = this.forks.expect(this.limits.startMs);
    let pid: number | undefined;
    let adopted = false;
    try {
      const seq = this.nextSeq++;
      const answer = await p.request({ t: 'fork', seq, address, token, command }, `forked:${seq}`, this.limits.startMs);
      if (answer.t !== 'forked') throw new Error(`fork: actor ${parent} answered ${answer.t}`);
      if ('error' in answer) throw new Error(`fork: actor ${parent} could not start ${child}: ${answer.error}`);
      pid = answer.pid;
      const ch = await channel.catch((error: unknown) => {
        throw new Error(`fork: ${child} (pid ${answer.pid}) did not connect: ${error instanceof Error ? error.message : String(error)}`);
      });
      // close() ran meanwhile: no actor may appear after it.
      if (this.closed) throw new Error(`fork: the driver was closed while ${child} started`);
      adopted = true;
      const proc = new ForkedProcess(answer.pid, ch, () => p.proc.stderrTail());
      await this.adopt(new Agent(child, p.spec, proc, ch, ++this.forkCount, p, this.limits.answerMs), credentialsFor(p.spec));
    } finally {
      if (!adopted) {
        // A child that exists but is no actor must not outlive the step: without its channel it exits.
        this.forks.forget(token);
        void channel.then((ch) => ch.destroy(), () => {});
        if (pid !== undefined) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
    }
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
      agent.proc.kill();
      await within(agent.exited, this.limits.killMs);
      throw new Error(`exit: actor ${actor} did not exit within ${this.limits.exitMs} ms of being told to; killed`);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const errors: string[] = [];
    const end = async (agent: Agent) => {
      agent.leaving = true;
      if (agent.state !== 'exited') agent.proc.kill();
      if (!(await within(agent.exited, this.limits.killMs))) {
        errors.push(`actor ${agent.name} (pid ${agent.pid}) had not ended ${this.limits.killMs} ms after SIGKILL`);
      } else if (agent.proc instanceof ForkedProcess && agent.parent?.state !== 'exited' && !(await agent.proc.reaped(this.limits.killMs))) {
        // Its parent agent is alive to reap it: a zombie left now would outlive the run.
        errors.push(`actor ${agent.name} (pid ${agent.pid}) was not reaped by its parent ${agent.parent?.name} within ${this.limits.killMs} ms`);
      }
      this.abandon(agent);
    };
    // Forked agents one at a time, the latest fork first: each dies while its parent agent
    // (forked earlier, or started by the driver) is alive to reap it.
    const forked = [...this.agents.values()].filter((a) => a.forkOrder > 0).sort((a, b) => b.forkOrder - a.forkOrder);
    for (const agent of forked) await end(agent);
    await Promise.all([...this.agents.values()].filter((a) => a.forkOrder === 0).map(end));
    this.forks.close();
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
    const agent = new Agent(name, spec, new SpawnedProcess(child), new Channel(child.stdio[3] as Socket), 0, undefined, this.limits.answerMs);
    const failedToSpawn = new Promise<never>((_, reject) => {
      child.once('error', (error) => reject(new Error(`actor ${name} could not be started: ${error.message}`)));
    });
    failedToSpawn.catch(() => {});
    child.on('error', (error) => {
      if (!agent.leaving && agent.state !== 'starting') this.fail(new Error(`actor ${name}: ${error.message}`));
    });
    await this.adopt(agent, credentials, failedToSpawn);
  }

  /**
   * Registers an agent (so that close() finds it whatever happens next),
   * routes its channel, and waits for its `ready`: the credentials the
   * kernel gave it must be `credentials`.
   */
  private async adopt(agent: Agent, credentials: { uid?: number; gid?: number }, failedToSpawn?: Promise<never>): Promise<void> {
    const name = agent.name;
    this.agents.set(name, agent);
    agent.channel.listen(
      (message) => this.onMessage(agent, message),
      (error) => {
        if (!agent.leaving) this.fail(new Error(`actor ${name}: ${error.message}`));
      },
    );
    void agent.exited.then(() => {
      if (agent.leaving || agent.stateAtExit !== 'running') return;
      // Give stderr's last chunk a turn to arrive before the report quotes it.
      setImmediate(() => {
        const reason = `actor ${name} died unexpectedly (${agent.describeDeath()})`;
        this.fail(new Error(reason));
        for (const call of agent.pending.values()) call.settle({ ok: false, errno: 0, fault: reason });
        agent.pending.clear();
      });
    });

    let timer: NodeJS.Timeout | undefined;
    const ready = await Promise.race([
      new Promise<FromAgent>((resolve) => agent.waiters.set('ready', resolve)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`actor ${name} did not start within ${this.limits.startMs} ms`)), this.limits.startMs);
      }),
      // Give stderr's last chunk a turn to arrive before the report quotes it.
      agent.exited.then(() => new Promise<never>((_, reject) => setImmediate(() => reject(new Error(`actor ${name} failed to start (${agent.describeDeath()})`))))),
      ...(failedToSpawn === undefined ? [] : [failedToSpawn]),
    ]).catch((error: unknown) => {
      agent.leaving = true;
      agent.proc.kill();
      throw error;
    }).finally(() => {
      clearTimeout(timer);
      agent.waiters.delete('ready');
    });
    if (ready.t !== 'ready') throw new Error(`actor ${name}: unexpected first message ${ready.t}`);
    const expected = { uid: credentials.uid ?? process.getuid?.(), gid: credentials.gid ?? process.getgid?.() };
    const wrong: string[] = [];
    if (ready.pid !== agent.pid) wrong.push(`pid ${ready.pid}, not ${agent.pid}`);
    if (expected.uid !== undefined && ready.uid !== expected.uid) wrong.push(`uid ${ready.uid}, not ${expected.uid}`);
    if (expected.gid !== undefined && ready.gid !== expected.gid) wrong.push(`gid ${ready.gid}, not ${expected.gid}`);
    if (credentials.uid !== undefined && ready.groups.length > 0) wrong.push(`supplementary groups ${ready.groups.join(',')}`);
    if (wrong.length > 0) {
      agent.leaving = true;
      agent.proc.kill();
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
        return;
      case 'forked':
        this.answer(agent, `forked:${message.seq}`, message);
        return;
      case 'hello':
        // only ever the first frame of a fork's connection, read by the fork server
        if (!agent.leaving) this.fail(new Error(`actor ${agent.name}: unexpected ${message.t} frame`));
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
