import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatonError } from '@baton/core';
import { HttpWorkerClient, httpWorkerClient, isTransportError } from '../src/index';

/** A worker that answers health 503 (shutting down) and never answers a turn. */
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/v1/health') {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          ok: false,
          agent: 'a',
          version: 'v1',
          identity: 'i',
          schemaVersion: 1,
          inflight: 0,
        }),
      );
    }
    // a turn gets no answer at all
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const turn = (deadline: number) => ({
  protocol: 2 as const,
  session: { id: 's', agent: 'a', version: 'v1', tenant: null },
  checkpoint: null,
  history: [],
  input: { kind: 'message' as const, message: 'hi' },
  turnId: 't',
  deadline,
  capability: 'c',
});

describe('the HTTP worker client', () => {
  it('names itself when not given an id', () => {
    const c = httpWorkerClient(url);
    expect(c).toBeInstanceOf(HttpWorkerClient);
    expect(c.id).toMatch(/^wrk_/);
  });

  it('refuses a health answer of a worker shutting down, rather than trusting its body', async () => {
    const c = httpWorkerClient(url, { id: 'w1' });
    try {
      await expect(c.health()).rejects.toBeInstanceOf(BatonError);
    } finally {
      await c.close();
    }
  });

  it('gives up on a turn at its deadline with TURN_TIMEOUT', async () => {
    const c = httpWorkerClient(url, { id: 'w1' });
    try {
      const err = (await c.turn(turn(Date.now() + 200)).catch((e: unknown) => e)) as BatonError;
      expect(err.code).toBe('TURN_TIMEOUT');
      expect(isTransportError(err)).toBe(false);
    } finally {
      await c.close();
    }
  });

  it('reports a worker it cannot reach as a transport error', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const c = httpWorkerClient(`http://127.0.0.1:${port}`, { id: 'gone' });
    try {
      const err = (await c.turn(turn(Date.now() + 5_000)).catch((e: unknown) => e)) as BatonError;
      expect(err.code).toBe('WORKER_ERROR');
      expect(isTransportError(err)).toBe(true);
      expect(err.details).toMatchObject({ workerId: 'gone', connection: true });
    } finally {
      await c.close();
    }
  });
});
