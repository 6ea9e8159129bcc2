/**
 * The benches `npm run bench -- vs-base` can run side by side: which module, with which arguments
 * (only arguments the base tree's module understands too, so both trees run the same workload),
 * which figures are judged and by how much they may move.
 */
import type { SourcePatch } from './child';

/**
 * How a figure takes part: `judged` gets a target (Baton's own rates and costs); `shown` is
 * compared without a target; `control` is a contender whose code is not Baton's, the same in both
 * trees, compared without a target: how far it moves between the trees' runs is how fair the run
 * was.
 */
export type Role = 'judged' | 'shown' | 'control';

export interface BenchSpec {
  /** The bench module, relative to a tree's root. */
  module: string;
  /** The allowed move of a judged figure when the base's spread is smaller. */
  tolerance: number;
  /**
   * The module's arguments, one list per part of a run (a run of a tree calls the module once per
   * part, one after the other, and takes the figures of all): `quick` for the side-by-side default,
   * `seconds` where the bench takes it.
   */
  parts(opts: { quick: boolean; seconds: number | undefined }): string[][];
  /** Source changes applied alike in both trees (see `SourcePatch`). */
  patches: SourcePatch[];
  /** The role of a figure of this bench, or undefined when it is not compared. */
  role(key: string): Role | undefined;
  /** What a quick run is, for the output. */
  quick: string;
}

/**
 * The turns bench's CPU per turn in the steady state, in a tree whose bench still counts it from
 * before the warm-up (9747a6a's and its successors' until the warm-up was left out): the CPU from
 * the end of the warm-up to the end of the load over the turns measured in that window, as this
 * tree's bench counts it, so that both trees' figures are the same measurement. Counted from before
 * the warm-up, the figure also holds V8 compiling the router's code while it warms up (more code,
 * more compiling), a cost a router pays once, not per turn.
 */
const STEADY_CPU: SourcePatch = {
  file: '/bench/turns.ts',
  unlessPresent: 'const cpuWarm',
  // matched in the JavaScript the tree's tsx makes of the module (types gone, whitespace too)
  pattern:
    'const cpu0\\s*=\\s*await cpu\\(\\);\\s*const result\\s*=\\s*await (ask(?:<LoadResult>)?\\(load,\\s*\\{[\\s\\S]*?\\}\\));\\s*const cpuUsed\\s*=\\s*\\(?await cpu\\(\\)\\)?\\s*-\\s*cpu0;\\s*const perTurn\\s*=\\s*cpuUsed\\s*/\\s*Math\\.max\\(1,\\s*result\\.total\\);',
  replacement:
    'const running = $1; await new Promise((r) => setTimeout(r, warmupMs)); const cpuWarm = await cpu(); const result = await running; const perTurn = ((await cpu()) - cpuWarm) / Math.max(1, result.ok);',
};

export const SPECS: Record<string, BenchSpec> = {
  store: {
    module: 'bench/store.ts',
    tolerance: 0.05,
    // Quick: Baton's per-size appends and reads come from the encryption part (its "off" contender
    // is the plain store; "on" the same with a key), without the raw drivers, the LangGraph savers
    // and SQLite NORMAL that a whole `--quick` run adds (about 40 % of its time).
    parts: ({ quick }) =>
      quick
        ? [
            ['--quick', '--encryption'],
            ['--quick', '--concurrent'],
          ]
        : [[]],
    patches: [],
    // Baton's store: per-size appends and reads, the concurrent appends, encryption off and on
    role: (key) =>
      /\bbaton\b|^encryption (on|off) /.test(key)
        ? 'judged'
        : /\b(raw|langgraph)\b/.test(key)
          ? 'control'
          : undefined,
    quick:
      '`store --quick --encryption` then `store --quick --concurrent`: 2 chunks per figure, 100 / 40 appends per chunk, 10-turn concurrent sessions',
  },
  'store-langgraph': {
    module: 'bench/store-langgraph.ts',
    tolerance: 0.05,
    parts: ({ quick }) => [quick ? ['--quick'] : []],
    patches: [],
    role: (key) => (/ baton /.test(key) ? 'judged' : / langgraph /.test(key) ? 'control' : undefined),
    quick: '`store-langgraph --quick`: 1 round of 16 threads x 20 steps, 400 getTuple',
  },
  turns: {
    module: 'bench/turns.ts',
    tolerance: 0.1,
    parts: ({ quick, seconds }) => [seconds !== undefined ? [String(seconds)] : quick ? ['3'] : []],
    // The memory step (RSS after 10,000 more sessions) is not compared and is half of a run on a
    // busy machine: both trees skip it.
    patches: [
      { file: '/bench/turns.ts', pattern: '(MEMORY_SESSIONS\\s*=\\s*)[^;,\\n]+', replacement: '$10' },
      STEADY_CPU,
    ],
    role: (key) =>
      /^router (turns\/s|CPU µs per turn) \((synchronous=)?(FULL|NORMAL)\)$/.test(key)
        ? 'judged'
        : /^2 router processes, one SQLite file: turns\/s|^router CPU µs per turn \(2 routers|^bare proxy requests\/s/.test(
              key,
            )
          ? 'shown'
          : undefined,
    quick: '`turns 3`: 3 s per contender after 1.5 s of warm-up',
  },
};
