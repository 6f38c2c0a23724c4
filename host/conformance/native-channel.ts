/**
 * The driver's end of one agent's channel (agent-protocol.ts): frames out,
 * messages in. Messages that arrive while no handler is set are kept and
 * handed over, in order, once one is: a forked child's connection is read
 * (its `hello`) before the driver has an actor for it.
 */

import type { Socket } from 'node:net';
import { frame, FrameReader, type FromAgent, type ToAgent } from './agent-protocol.js';

export class Channel {
  private readonly reader = new FrameReader();
  private readonly backlog: FromAgent[] = [];
  private handler: ((message: FromAgent) => void) | undefined;
  private onBroken: ((error: Error) => void) | undefined;
  private broken: Error | undefined;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      if (this.broken !== undefined) return;
      let messages: unknown[];
      try {
        messages = this.reader.push(chunk);
      } catch (error) {
        this.break(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      for (const message of messages) this.deliver(message as FromAgent);
    });
    // Reset or closed: the agent died, which its process's end reports.
    socket.on('error', () => {});
  }

  /** Sets where messages go (undefined: keep them), and where a stream no peer of ours writes is reported. */
  listen(handler: ((message: FromAgent) => void) | undefined, onBroken?: (error: Error) => void): void {
    this.handler = handler;
    if (onBroken !== undefined) this.onBroken = onBroken;
    if (this.broken !== undefined) this.onBroken?.(this.broken);
    while (this.handler !== undefined && this.backlog.length > 0) this.handler(this.backlog.shift()!);
  }

  send(message: ToAgent): void {
    // A dead agent's socket is closed: its death is reported through its process, not here.
    if (!this.socket.destroyed) this.socket.write(frame(message));
  }

  /** Whether the peer's end is gone (every copy of its descriptor closed). */
  get closed(): boolean {
    return this.socket.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private deliver(message: FromAgent): void {
    if (this.handler === undefined || this.backlog.length > 0) this.backlog.push(message);
    else this.handler(message);
  }

  private break(error: Error): void {
    this.broken = error;
    this.onBroken?.(error);
  }
}
