/**
 * Where forked actors' channels come from: a Unix socket the driver listens
 * on while it has forks to make. The address is in the abstract namespace
 * (Linux: a name that is no file), so there is nothing on disk to leave
 * behind or to open to other uids, and agents of any uid can connect. A
 * connection counts only once its first frame is `hello` with a token the
 * driver handed out for one fork; any other connection is dropped.
 */

import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { Channel } from './native-channel.js';

interface Expected {
  resolve(channel: Channel): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class ForkServer {
  private server: Server | undefined;
  private address: string | undefined;
  private readonly expected = new Map<string, Expected>();
  /** Connections not yet introduced: dropped by close(). */
  private readonly strangers = new Set<Channel>();

  /** Listens (once), and answers the address agents connect to. */
  async listen(): Promise<string> {
    if (this.address !== undefined) return this.address;
    const address = `\0ipcemu-runner-${process.pid}-${randomBytes(8).toString('hex')}`;
    const server = createServer((socket) => this.introduce(new Channel(socket)));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(address, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.address = address;
    return address;
  }

  /** A new token, and the channel that will arrive with it (rejects after `ms`). */
  expect(ms: number): { token: string; channel: Promise<Channel> } {
    const token = randomBytes(16).toString('hex');
    const channel = new Promise<Channel>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.expected.delete(token);
        reject(new Error(`no connection arrived within ${ms} ms`));
      }, ms);
      this.expected.set(token, { resolve, reject, timer });
    });
    return { token, channel };
  }

  /** Gives up waiting for `token`'s connection. */
  forget(token: string): void {
    const e = this.expected.get(token);
    if (e === undefined) return;
    clearTimeout(e.timer);
    this.expected.delete(token);
  }

  /**
   * Stops listening; connections that were never introduced are dropped,
   * waits still under way fail. Actors' channels are not touched: they end
   * with their agents.
   */
  close(): void {
    for (const [token, e] of this.expected) {
      clearTimeout(e.timer);
      e.reject(new Error('the driver was closed'));
      this.expected.delete(token);
    }
    for (const c of this.strangers) c.destroy();
    this.strangers.clear();
    const server = this.server;
    this.server = undefined;
    this.address = undefined;
    server?.close();
  }

  private introduce(channel: Channel): void {
    this.strangers.add(channel);
    const drop = () => {
      this.strangers.delete(channel);
      channel.destroy();
    };
    channel.socket.once('close', () => this.strangers.delete(channel));
    channel.listen((message) => {
      const e = message.t === 'hello' ? this.expected.get(message.token) : undefined;
      if (e === undefined) {
        drop();
        return;
      }
      // Later messages are the child's: kept until its actor takes the channel.
      channel.listen(undefined);
      this.strangers.delete(channel);
      this.forget((message as { token: string }).token);
      e.resolve(channel);
    }, drop);
  }
}
