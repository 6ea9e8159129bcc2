/** The simulated users' view of Baton: the traffic API over real HTTP on 127.0.0.1. */
import { BatonClient } from '../client';
import type { Transport, TurnOutcome } from './users';

export class BatonTransport implements Transport {
  private readonly client: BatonClient;
  constructor(
    url: string,
    trafficToken: string,
    private readonly agent: string,
  ) {
    this.client = new BatonClient({ server: url, token: trafficToken, timeoutMs: 60_000 });
  }
  async create(): Promise<{ id: string; version: string; token: string }> {
    const s = await this.client.createSession(this.agent, {});
    return { id: s.sessionId, version: s.version, token: s.sessionToken };
  }
  async turn(id: string, token: string, message: string, key: string): Promise<TurnOutcome> {
    return this.client.turn(id, token, message, key);
  }
  async callback(waitToken: string, payload: unknown): Promise<TurnOutcome> {
    return this.client.callback(waitToken, payload);
  }
  async feedback(id: string, token: string, signal: 'thumbs_up' | 'thumbs_down'): Promise<void> {
    await this.client.feedback(id, token, signal);
  }
  async end(id: string, token: string): Promise<void> {
    await this.client.endSession(id, token);
  }
}
