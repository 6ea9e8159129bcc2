import { startBaton } from '@baton/server';
import { supportAgent } from '@baton/example-support-agent';
import { BatonClient } from '@baton/cli';
const b = await startBaton({
  store: '/tmp/lat-test.db',
  agents: [supportAgent('v1')],
  tokens: { traffic: ['t'], admin: ['a'], worker: ['w'] },
  controller: { intervalMs: 200 },
});
const c = new BatonClient({ server: b.url, token: 't' });
async function bench(name: string, f: () => Promise<unknown>) {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let n = 0;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      for (let k = 0; k < 20; k++) {
        await f();
        n++;
      }
    }),
  );
  const dt = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  console.log(
    name,
    (n / dt).toFixed(0),
    '/s; cpu',
    ((cpu.user + cpu.system) / 1e6).toFixed(1),
    's of',
    dt.toFixed(1),
  );
}
await bench('healthz', () => c.health());
await bench('create', () => c.createSession('support'));
const sessions = await Promise.all(Array.from({ length: 1000 }, () => c.createSession('support')));
let i = 0;
await bench('turn-first', () => {
  const s = sessions[i++]!;
  return c.turn(s.sessionId, s.sessionToken, 'Where is my order A-1234?', 'k');
});
i = 0;
await bench('turn-bye', () => {
  const s = sessions[i++]!;
  return c.turn(s.sessionId, s.sessionToken, 'Hi there.', 'k2');
});
await b.close();
