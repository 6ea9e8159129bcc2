/**
 * Malformed HTTP over a raw socket to the loopback port: Node's parser errors, oversized headers,
 * a missing Host, a slow body and a client that hangs up mid-upload are all answered (or logged)
 * in the documented shape, and the store does not change.
 */
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTP_STATUS } from '@baton/core';
import { counterV1 } from '../fixtures/agents';
import { startServer, stopServer, type Running } from '../fixtures/harness';
import { openSqliteDumped, type DumpedStore } from './store-dump';

let d: DumpedStore;
let r: Running;
let port: number;
const logLines: Array<{ level: number; msg?: string; err?: unknown; stack?: unknown }> = [];

beforeAll(async () => {
  d = await openSqliteDumped();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
      done();
    },
  });
  r = await startServer(d.store, [counterV1], {
    logger: pino({ level: 'debug' }, sink),
    limits: { healthIntervalMs: 0, requestTimeoutMs: 400, headersTimeoutMs: 300 },
  });
  port = Number(new URL(r.url).port);
});

afterAll(async () => {
  if (r) await stopServer(r);
  await d?.cleanup();
});

/** Write `chunks` to a fresh connection (pausing between them), then read until the server closes it. */
function raw(chunks: string[], opts: { pauseMs?: number; hangUp?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let out = '';
    sock.on('data', (b: Buffer) => (out += b.toString('latin1')));
    sock.on('close', () => resolve(out));
    sock.on('error', (e) => (opts.hangUp ? resolve(out) : reject(e)));
    sock.on('connect', async () => {
      for (const c of chunks) {
        sock.write(c, 'latin1');
        if (opts.pauseMs) await new Promise((res) => setTimeout(res, opts.pauseMs));
      }
      if (opts.hangUp) sock.destroy();
    });
  });
}

function parsed(res: string): {
  status: number;
  headers: string;
  body: { error: { code: string; message: string } };
} {
  const m = /^HTTP\/1\.1 (\d{3}) [^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(res);
  if (!m) throw new Error(`not an HTTP response: ${JSON.stringify(res.slice(0, 200))}`);
  let body = m[3]!;
  if (/transfer-encoding: chunked/i.test(m[2]!))
    body = body.replace(/^[0-9a-f]+\r\n/i, '').replace(/\r\n0\r\n\r\n$/, '');
  return { status: Number(m[1]), headers: m[2]!, body: JSON.parse(body) };
}

async function expectAnswer(chunks: string[], code: string): Promise<void> {
  const before = await d.dump();
  const res = parsed(await raw(chunks));
  expect(res.body.error.code, JSON.stringify(res.body)).toBe(code);
  expect(res.status).toBe(HTTP_STATUS[code as keyof typeof HTTP_STATUS]);
  expect(typeof res.body.error.message).toBe('string');
  expect(Object.keys(res.body)).toEqual(['error']);
  expect(res.headers).toMatch(/content-type: application\/json/i);
  expect(await d.dump()).toEqual(before);
}

const POST =
  'POST /v1/agents/counter/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer traffic-token\r\n';

describe('malformed HTTP on a raw socket', () => {
  it('conflicting Content-Length and Transfer-Encoding: MALFORMED_REQUEST', async () => {
    await expectAnswer(
      [
        `${POST}Content-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
      ],
      'MALFORMED_REQUEST',
    );
  });

  it('two different Content-Lengths: MALFORMED_REQUEST', async () => {
    await expectAnswer(
      [`${POST}Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`],
      'MALFORMED_REQUEST',
    );
  });

  it('bad chunking: MALFORMED_REQUEST', async () => {
    await expectAnswer(
      [`${POST}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`],
      'MALFORMED_REQUEST',
    );
  });

  it('a NUL in a header: MALFORMED_REQUEST', async () => {
    await expectAnswer([`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0000b\r\n\r\n`], 'MALFORMED_REQUEST');
  });

  it('a request line that is not HTTP: MALFORMED_REQUEST', async () => {
    await expectAnswer([`HELLO THERE\r\n\r\n`], 'MALFORMED_REQUEST');
  });

  it('headers larger than the server accepts: HEADERS_TOO_LARGE (431)', async () => {
    await expectAnswer(
      [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`],
      'HEADERS_TOO_LARGE',
    );
  });

  it('HTTP/1.1 without Host: MALFORMED_REQUEST', async () => {
    await expectAnswer([`GET /healthz HTTP/1.1\r\n\r\n`], 'MALFORMED_REQUEST');
  });

  it('a body slower than limits.requestTimeoutMs: REQUEST_TIMEOUT (408)', async () => {
    const before = await d.dump();
    const res = parsed(
      await raw([`${POST}Content-Type: application/json\r\nContent-Length: 50\r\n\r\n{"tenant":`, ' ', ' '], {
        pauseMs: 600,
      }),
    );
    expect(res.status).toBe(408);
    expect(res.body.error.code).toBe('REQUEST_TIMEOUT');
    expect(await d.dump()).toEqual(before);
  });

  it('a client that hangs up mid-upload is logged without a stack, never as an error', async () => {
    const before = await d.dump();
    const from = logLines.length;
    await raw([`${POST}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"metadata":{"a":"`], {
      pauseMs: 100,
      hangUp: true,
    });
    for (let i = 0; i < 50 && !logLines.slice(from).some((l) => l.msg === 'client went away'); i++) {
      await new Promise((res) => setTimeout(res, 20));
    }
    const mine = logLines.slice(from);
    expect(mine.map((l) => l.msg)).toContain('client went away');
    expect(mine.filter((l) => l.level >= 50)).toEqual([]);
    expect(JSON.stringify(mine)).not.toMatch(/\n\s+at /);
    expect(await d.dump()).toEqual(before);
  });
});
