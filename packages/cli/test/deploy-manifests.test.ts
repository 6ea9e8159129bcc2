/**
 * The Kubernetes manifests of docs/deploy.md (and the worker Rollout of docs/argo-rollouts.md),
 * checked without a cluster: every YAML block parses, each object has the fields its kind
 * requires, selectors match pod labels, Services and probes point at named container ports,
 * every Secret reference names a Secret key of the page, every `$(VAR)` in args is defined, the
 * probes are /readyz and /healthz for the routers, and every `baton` flag and BATON_* variable
 * used exists in the CLI (its --help and its configuration source).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { REPO, run } from './helpers';

type Obj = Record<string, any>;

function yamlObjects(file: string): Obj[] {
  const md = readFileSync(path.join(REPO, 'docs', file), 'utf8');
  const out: Obj[] = [];
  for (const m of md.matchAll(/```yaml\n([\s\S]*?)```/g)) {
    for (const d of parseAllDocuments(m[1]!)) {
      expect(d.errors, `${file}: a YAML block parses`).toEqual([]);
      const o = d.toJS() as Obj | null;
      if (o && typeof o === 'object' && 'kind' in o) out.push(o);
    }
  }
  return out;
}

const API: Record<string, string> = {
  Secret: 'v1',
  Service: 'v1',
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
};

const objs = yamlObjects('deploy.md');
const workloads = objs.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
const secrets = new Map<string, Set<string>>(
  objs
    .filter((o) => o.kind === 'Secret')
    .map((o) => [o.metadata.name as string, new Set(Object.keys(o.stringData ?? o.data ?? {}))]),
);
const containers = (w: Obj): Obj[] => w.spec.template.spec.containers;
const argOf = (args: string[], flag: string): string | undefined => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};
const byCommand = (cmd: string) =>
  workloads.filter((w) => containers(w).some((c) => (c.args ?? [])[0] === cmd));

const help: Record<string, string> = {};
beforeAll(async () => {
  for (const cmd of ['serve', 'worker']) {
    const r = await run([cmd, '--help']);
    expect(r.code).toBe(0);
    help[cmd] = r.stdout;
  }
}, 60_000);

describe('docs/deploy.md manifests', () => {
  it('are objects of known kinds with apiVersion, metadata.name and matching selectors', () => {
    expect(objs.length).toBeGreaterThanOrEqual(8);
    for (const o of objs) {
      expect(API[o.kind], `${o.kind} is a kind the test knows`).toBeDefined();
      expect(o.apiVersion, `${o.kind}/${o.metadata?.name}`).toBe(API[o.kind]);
      expect(o.metadata?.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
    for (const w of workloads) {
      const labels = w.spec.template.metadata.labels as Record<string, string>;
      for (const [k, v] of Object.entries(w.spec.selector.matchLabels as Record<string, string>))
        expect(labels[k], `${w.metadata.name}: selector ${k}`).toBe(v);
      expect(containers(w).length).toBeGreaterThan(0);
      for (const c of containers(w)) {
        expect(c.name).toBeTruthy();
        expect(c.image).toMatch(/:/);
        for (const probe of [c.readinessProbe, c.livenessProbe].filter(Boolean)) {
          if (!probe.httpGet) continue;
          const port = probe.httpGet.port;
          expect(
            (c.ports ?? []).some((p: Obj) => p.name === port || p.containerPort === port),
            `${w.metadata.name}: probe port ${port}`,
          ).toBe(true);
        }
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          if (ref)
            expect(secrets.get(ref.name)?.has(ref.key), `${e.name}: secret ${ref.name}/${ref.key}`).toBe(
              true,
            );
        }
        const defined = new Set((c.env ?? []).map((e: Obj) => e.name));
        for (const a of c.args ?? [])
          for (const m of String(a).matchAll(/\$\((\w+)\)/g))
            expect(defined.has(m[1]), `${w.metadata.name}: $(${m[1]}) is defined`).toBe(true);
      }
    }
    for (const svc of objs.filter((o) => o.kind === 'Service')) {
      const target = workloads.find((w) =>
        Object.entries(svc.spec.selector as Record<string, string>).every(
          ([k, v]) => w.spec.template.metadata.labels[k] === v,
        ),
      );
      expect(target, `Service ${svc.metadata.name} selects a workload of the page`).toBeDefined();
      for (const p of svc.spec.ports) {
        const names = containers(target!).flatMap((c) => (c.ports ?? []).map((x: Obj) => x.name));
        expect(names, `Service ${svc.metadata.name} targetPort`).toContain(p.targetPort);
      }
    }
  });

  it('run several routers on PostgreSQL with /readyz and /healthz probes and every token from a Secret', () => {
    const routers = byCommand('serve');
    expect(routers).toHaveLength(1);
    const r = routers[0]!;
    expect(r.spec.replicas).toBeGreaterThanOrEqual(2);
    const c = containers(r)[0]!;
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    const port = c.ports.find((p: Obj) => p.name === c.readinessProbe.httpGet.port);
    expect(String(port.containerPort)).toBe(argOf(c.args, '--port'));
    expect(argOf(c.args, '--host')).toBe('0.0.0.0');
    const env = new Set(c.env.map((e: Obj) => e.name));
    for (const v of [
      'BATON_STORE',
      'BATON_TRAFFIC_TOKEN',
      'BATON_ADMIN_TOKEN',
      'BATON_WORKER_TOKEN',
      'BATON_READ_TOKEN',
    ])
      expect(env.has(v), v).toBe(true);
    const storeRef = c.env.find((e: Obj) => e.name === 'BATON_STORE').valueFrom.secretKeyRef;
    const storeSecret = objs.find((o) => o.kind === 'Secret' && o.metadata.name === storeRef.name)!;
    expect(storeSecret.stringData[storeRef.key]).toMatch(/^postgres:\/\//);
    // an instance id per pod, and a grace period longer than the shutdown timeout
    expect(argOf(c.args, '--instance-id')).toBe('$(POD_NAME)');
    const shutdown = /^(\d+)s$/.exec(argOf(c.args, '--shutdown-timeout') ?? '')!;
    expect(r.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(Number(shutdown[1]));
  });

  it('run one worker Deployment per version, advertising the pod IP, registering with the routers Service', () => {
    const workers = byCommand('worker');
    expect(workers.length).toBeGreaterThanOrEqual(2);
    const routerSvc = objs.find((o) => o.kind === 'Service' && o.spec.selector.app === 'baton')!;
    const versions = new Set<string>();
    for (const w of workers) {
      const c = containers(w)[0]!;
      const version = argOf(c.args, '--export')!;
      expect(w.spec.template.metadata.labels.version).toBe(version);
      versions.add(version);
      expect(argOf(c.args, '--server')).toBe(
        `http://${routerSvc.metadata.name}:${routerSvc.spec.ports[0].port}`,
      );
      const port = argOf(c.args, '--port');
      expect(argOf(c.args, '--url')).toBe(`http://$(POD_IP):${port}`);
      expect(c.env.find((e: Obj) => e.name === 'POD_IP').valueFrom.fieldRef.fieldPath).toBe('status.podIP');
      expect(String(c.ports[0].containerPort)).toBe(port);
      expect(c.readinessProbe.httpGet.path).toBe('/v1/health');
      // time to unregister on SIGTERM and finish a turn (the default turn timeout is 30 s)
      expect(w.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(30);
      expect(c.env.map((e: Obj) => e.name)).toContain('BATON_WORKER_TOKEN');
      expect(c.env.map((e: Obj) => e.name)).not.toContain('BATON_ADMIN_TOKEN');
    }
    expect(versions.size).toBe(workers.length);
  });

  it('use only flags and BATON_* variables the CLI has', () => {
    const config = readFileSync(path.join(REPO, 'packages/cli/src/config.ts'), 'utf8');
    const worker = readFileSync(path.join(REPO, 'packages/cli/src/worker.ts'), 'utf8');
    const argoWorkers = yamlObjects('argo-rollouts.md').filter((o) => o.kind === 'Rollout');
    const all = [...workloads, ...argoWorkers.map((o) => ({ ...o, spec: { template: o.spec.template } }))];
    let checked = 0;
    for (const w of all) {
      for (const c of containers(w)) {
        const args: string[] = (c.args ?? []).map(String);
        const cmd = args[0];
        if (cmd !== 'serve' && cmd !== 'worker') continue;
        for (const a of args.filter((x) => x.startsWith('--'))) {
          expect(help[cmd], `baton ${cmd} ${a}`).toContain(a);
          checked++;
        }
        for (const e of c.env ?? []) {
          if (!String(e.name).startsWith('BATON_')) continue;
          // tokens are read as BATON_<SCOPE>_TOKEN for each scope; the other variables by name
          const token =
            /^BATON_(TRAFFIC|ADMIN|WORKER|READ)_TOKEN$/.test(e.name) &&
            config.includes('`BATON_${k.toUpperCase()}_TOKEN`');
          expect(token || config.includes(`env.${e.name}`) || worker.includes(e.name), e.name).toBe(true);
        }
      }
    }
    expect(checked).toBeGreaterThan(10);
  });
});
