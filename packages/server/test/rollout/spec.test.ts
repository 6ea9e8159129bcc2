import { describe, expect, it } from 'vitest';
import { BatonError } from '@baton/core';
import { formatDuration, parseDuration, parseSpec, validateSpec } from '../../src/rollout/spec';

function errorOf(input: unknown): BatonError {
  try {
    parseSpec(input);
  } catch (e) {
    if (e instanceof BatonError) return e;
    throw e;
  }
  throw new Error('expected a validation error');
}

const YAML = `
agent: support
from: v1
to: v2
migration: { policy: at-boundary, eager: true, batch: 200 }
drain: { deadline: 10m, onDeadline: mark-stuck }
steps:
  - fill: 5
    migrate: 0
    verify: { minSessions: 50, maxDuration: 15m }
  - fill: 25
    migrate: 10
    verify: { minSessions: 200 }
  - fill: 100
    migrate: 100
gates:
  - metric: eval.resolution
    test: mann-whitney
    tolerance: -0.02
    critical: true
  - metric: session.tool_calls
    test: mann-whitney
    tolerance: +20%
  - metric: session.thumbs_down
    test: proportion
    tolerance: +2pp
onFail: abort
onAbort: { greenSessions: stay }
`;

describe('rollout spec', () => {
  it('parses the YAML example of the design with defaults filled in', () => {
    const s = parseSpec(YAML);
    expect(s.agent).toBe('support');
    expect(s.from).toBe('v1');
    expect(s.drain).toEqual({ deadline: 600_000, onDeadline: 'mark-stuck' });
    expect(s.steps).toHaveLength(3);
    expect(s.steps[0]!.verify).toEqual({
      minSessions: 50,
      maxDuration: 900_000,
      minDuration: 0,
      interval: 10_000,
    });
    expect(s.steps[1]!.verify!.maxDuration).toBe(900_000);
    expect(s.steps[2]!.verify).toBeNull();
    expect(s.gates[1]!.tolerance).toBe('+20%');
    expect(s.gates[2]!.tolerance).toBe('+2pp');
    expect(s.onNoData).toBe('pause');
    expect(s.preflight).toEqual({ enabled: true, sample: null });
    expect(s.onAbort).toEqual({ greenSessions: 'stay', compensate: 'manual', effects: null });
  });

  it('onAbort.compensate auto: refused with greenSessions stay unless it names the effects to compensate', () => {
    const base = { agent: 'a', to: 'b', steps: [{ fill: 50 }] };
    expect(parseSpec({ ...base, onAbort: { greenSessions: 'reverse', compensate: 'auto' } }).onAbort).toEqual(
      {
        greenSessions: 'reverse',
        compensate: 'auto',
        effects: null,
      },
    );
    let err: unknown;
    try {
      parseSpec({ ...base, onAbort: { greenSessions: 'stay', compensate: 'auto' } });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'VALIDATION', details: { path: 'onAbort.compensate' } });
    expect((err as Error).message).toMatch(/needs onAbort.effects/);
    const named = parseSpec({ ...base, onAbort: { compensate: 'auto', effects: ['send_email'] } });
    expect(named.onAbort).toEqual({ greenSessions: 'stay', compensate: 'auto', effects: ['send_email'] });
    expect(() => parseSpec({ ...base, onAbort: { compensate: 'sometimes' } })).toThrow(
      /must be manual or auto/,
    );
  });

  it('parses the same spec from JSON text and from an object', () => {
    const fromYaml = parseSpec(YAML);
    expect(parseSpec(JSON.stringify(fromYaml))).toEqual(fromYaml);
    expect(parseSpec({ agent: 'a', to: 'v2', steps: [{ fill: 100, migrate: 100 }] })).toMatchObject({
      from: null,
      migration: { policy: 'at-boundary', eager: true, batch: 200, maxAge: null },
      drain: { deadline: 600_000, onDeadline: 'wait' },
      onFail: 'abort',
      onAbort: { greenSessions: 'stay' },
    });
  });

  it('points at the offending field', () => {
    const cases: Array<[unknown, string, RegExp]> = [
      [{ agent: 'a', to: 'b', steps: [{ fill: 5 }, { fill: 120 }] }, 'steps[1].fill', /between 0 and 100/],
      [{ agent: 'a', to: 'b', steps: [{ fill: 50 }, { fill: 20 }] }, 'steps[1].fill', /must not decrease/],
      [
        {
          agent: 'a',
          to: 'b',
          steps: [
            { fill: 50, migrate: 20 },
            { fill: 60, migrate: 10 },
          ],
        },
        'steps[1].migrate',
        /must not decrease/,
      ],
      [{ agent: 'a', steps: [{ fill: 50 }] }, 'to', /is required/],
      [{ agent: 'a', to: 'b', steps: [] }, 'steps', /at least one step/],
      [{ agent: 'a', to: 'b', steps: [{ fill: 50, foo: 1 }] }, 'steps[0]', /unknown field\(s\): foo/],
      [
        { agent: 'a', to: 'b', steps: [{ fill: 50, verify: { maxDuration: '10x' } }] },
        'steps[0].verify.maxDuration',
        /not a duration/,
      ],
      [
        { agent: 'a', to: 'b', steps: [{ fill: 5 }], gates: [{ metric: 'x', test: 'zz', tolerance: 1 }] },
        'gates[0].test',
        /must be one of/,
      ],
      [
        {
          agent: 'a',
          to: 'b',
          steps: [{ fill: 5 }],
          gates: [{ metric: 'x', test: 'threshold', tolerance: '5 %' }],
        },
        'gates[0].tolerance',
        /relative change/,
      ],
      [
        { agent: 'a', to: 'b', steps: [{ fill: 5 }], migration: { policy: 'max-age' } },
        'migration.maxAge',
        /required when policy is max-age/,
      ],
      [{ agent: 'a', to: 'b', steps: [{ fill: 5 }], onFail: 'explode' }, 'onFail', /abort or pause/],
      [{ agent: 'a', from: 'v1', to: 'v1', steps: [{ fill: 5 }] }, 'to', /must differ/],
      [
        { agent: 'a', to: 'b', steps: [{ fill: 5, verify: { minDuration: '2m', maxDuration: '1m' } }] },
        'steps[0].verify.minDuration',
        /must not exceed maxDuration/,
      ],
      [
        {
          agent: 'a',
          to: 'b',
          steps: [{ fill: 5 }],
          gates: [
            { metric: 'x', test: 'threshold', tolerance: 1 },
            { metric: 'x', test: 'threshold', tolerance: 2 },
          ],
        },
        'gates[1].metric',
        /duplicate gate name/,
      ],
    ];
    for (const [input, path, msg] of cases) {
      const e = errorOf(input);
      expect(e.code).toBe('VALIDATION');
      expect(e.details?.path).toBe(path);
      expect(e.message).toMatch(msg);
      expect(e.message.startsWith(`${path}: `)).toBe(true);
    }
  });

  it('accepts every gate test and option the analysis supports', () => {
    const s = parseSpec({
      agent: 'a',
      to: 'b',
      steps: [{ fill: 5 }],
      gates: [
        { metric: 'eval.resolution', test: 'threshold', tolerance: -0.1, threshold: 0.5 },
        {
          name: 'tools',
          metric: 'session.tool_calls',
          test: 'mann-whitney',
          tolerance: '+20%',
          censoring: 'completed',
          alpha: 0.01,
          minSamples: 30,
          critical: true,
        },
        { metric: 'session.thumbs_down', test: 'proportion', tolerance: '+2pp' },
        { metric: 'session.tool_mix', test: 'chi-square', tolerance: '10pp' },
        { name: 'seq', metric: 'eval.resolution', test: 'msprt', tolerance: '-2%', tau: 0.05 },
        {
          name: 'wald',
          metric: 'session.latency_ms',
          test: 'sprt',
          tolerance: 50,
          direction: 'lower-is-better',
          power: 0.9,
          maxSamples: 400,
        },
      ],
    });
    expect(s.gates.map((g) => g.test)).toEqual([
      'threshold',
      'mann-whitney',
      'proportion',
      'chi-square',
      'msprt',
      'sprt',
    ]);
    expect(s.gates[1]).toMatchObject({ censoring: 'completed', alpha: 0.01, minSamples: 30 });
    expect(s.gates[4]!.tau).toBe(0.05);
    expect(s.gates[5]).toMatchObject({ power: 0.9, maxSamples: 400 });
  });

  it("refuses a gate the analysis cannot evaluate, pointing at the gate's field", () => {
    const ok = { metric: 'eval.resolution', test: 'mann-whitney', tolerance: '-2%' };
    const withGate = (g: Record<string, unknown>) => ({
      agent: 'a',
      to: 'b',
      steps: [{ fill: 5 }],
      gates: [ok, { ...ok, name: 'second' }, { name: 'third', ...g }],
    });
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [
        { metric: 'session.tool_cals', test: 'mann-whitney', tolerance: '+20%' },
        'metric',
        /unknown gate metric/,
      ],
      [{ metric: 'eval.', test: 'threshold', tolerance: 1 }, 'metric', /unknown gate metric/],
      [{ metric: 'session.tool_calls', test: 'proportion', tolerance: '+2pp' }, 'metric', /0\/1 metric/],
      [{ metric: 'session.tool_calls', test: 'chi-square', tolerance: 0.1 }, 'metric', /categorical/],
      [{ metric: 'session.tool_mix', test: 'mann-whitney', tolerance: 0.1 }, 'test', /chi-square/],
      [
        { metric: 'session.tool_calls', test: 'mann-whitney', tolerance: '20%' },
        'tolerance',
        /needs a direction/,
      ],
      [
        { metric: 'session.thumbs_down', test: 'proportion', tolerance: '+200pp' },
        'tolerance',
        /at most 100/,
      ],
      [
        {
          metric: 'session.tool_calls',
          test: 'mann-whitney',
          tolerance: '+20%',
          direction: 'higher-is-better',
        },
        'direction',
        /says lower-is-better but direction is higher-is-better/,
      ],
      [{ metric: 'eval.resolution', test: 'sprt', tolerance: '-0%' }, 'tolerance', /nonzero tolerance/],
      [{ metric: 'eval.resolution', test: 'sprt', tolerance: '-5%', power: 0.01 }, 'power', /power/],
      [
        { metric: 'eval.resolution', test: 'sprt', tolerance: '-5%', minSamples: 50, maxSamples: 20 },
        'maxSamples',
        />= minSamples/,
      ],
    ];
    for (const [gate, field, msg] of cases) {
      const e = errorOf(withGate(gate));
      const path = `gates[2].${field}`;
      expect(e.code, JSON.stringify(gate)).toBe('VALIDATION');
      expect(e.details?.path, JSON.stringify(gate)).toBe(path);
      expect(e.message, JSON.stringify(gate)).toMatch(msg);
      expect(e.message.startsWith(`${path}: `)).toBe(true);
    }
    // schema-level checks of the new options
    const schema: Array<[Record<string, unknown>, string]> = [
      [{ ...ok, censoring: 'sometimes' }, 'censoring'],
      [{ ...ok, test: 'msprt', tau: 0 }, 'tau'],
      [{ ...ok, test: 'sprt', power: 1 }, 'power'],
      [{ ...ok, test: 'sprt', maxSamples: 2.5 }, 'maxSamples'],
      [{ ...ok, tests: 'sprt' }, ''],
    ];
    for (const [gate, field] of schema) {
      const e = errorOf(withGate(gate));
      expect(e.details?.path, JSON.stringify(gate)).toBe(field ? `gates[2].${field}` : 'gates[2]');
    }
  });

  it('a spec read back from the store skips the analysis check (an old rollout still loads)', () => {
    const old = {
      agent: 'a',
      to: 'b',
      steps: [{ fill: 5 }],
      gates: [{ metric: 'session.tool_cals', test: 'mann-whitney', tolerance: '+20%' }],
    };
    expect(errorOf(old).details?.path).toBe('gates[0].metric');
    expect(validateSpec(old, { stored: true }).gates[0]!.metric).toBe('session.tool_cals');
  });

  it('rejects text that is neither JSON nor YAML, and non-objects', () => {
    expect(errorOf('agent: [').message).toMatch(/not valid JSON or YAML/);
    expect(errorOf('- 1\n- 2').message).toMatch(/must be an object/);
    expect(errorOf(42).code).toBe('VALIDATION');
  });

  it('parses durations', () => {
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('2d')).toBe(172_800_000);
    expect(parseDuration(1500)).toBe(1500);
    expect(() => parseDuration('ten minutes')).toThrow(/not a duration/);
    expect(() => parseDuration(-1)).toThrow();
    for (const ms of [250, 30_000, 600_000, 3_600_000, 172_800_000])
      expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});
