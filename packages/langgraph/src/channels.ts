/**
 * Channel migrations of a LangGraph checkpoint, pure: renames, transforms and drops applied to a
 * checkpoint's values, versions and `versions_seen`, giving the next checkpoint (a child of the
 * one given). Only the channels a step changes get new versions (and new blobs when stored).
 */
import { maxChannelVersion, uuid6, type Checkpoint } from '@langchain/langgraph-checkpoint';

/** What one migration step does to the channels (state keys). */
export interface ChannelStep {
  /** Old channel name → new channel name; the value moves as it is. */
  rename?: Record<string, string>;
  /** Channel (after renames) → function of its value (and all values) giving the new value. */
  transform?: Record<string, (value: unknown, values: Readonly<Record<string, unknown>>) => unknown>;
  /** Channels to remove. */
  drop?: string[];
}

export interface MigratedCheckpoint {
  checkpoint: Checkpoint;
  /** Channels with a new version (to store). */
  changed: string[];
}

/** Apply `steps` in order to `cp`; `nextVersion` is the saver's `getNextVersion`. */
export function applyChannelSteps(
  cp: Checkpoint,
  steps: readonly ChannelStep[],
  nextVersion: (current: number | undefined) => number,
): MigratedCheckpoint {
  const values: Record<string, unknown> = { ...(cp.channel_values as Record<string, unknown>) };
  const versions: Record<string, number | string> = { ...cp.channel_versions };
  const seen: Record<string, Record<string, number | string>> = Object.fromEntries(
    Object.entries(cp.versions_seen).map(([k, v]) => [k, { ...v }]),
  );
  const all = Object.values(versions);
  let top: number | string | undefined = all.length ? maxChannelVersion(...all) : undefined;
  const bump = (): number => {
    const next = nextVersion(top === undefined ? undefined : Number(top));
    top = next;
    return next;
  };
  const changed = new Set<string>();
  for (const step of steps) {
    for (const [from, to] of Object.entries(step.rename ?? {})) {
      if (!(from in values) && !(from in versions)) continue;
      if (from in values) values[to] = values[from];
      else delete values[to];
      delete values[from];
      delete versions[from];
      versions[to] = bump();
      changed.delete(from);
      changed.add(to);
      for (const s of Object.values(seen))
        if (from in s) {
          s[to] = s[from]!;
          delete s[from];
        }
    }
    for (const [channel, fn] of Object.entries(step.transform ?? {})) {
      const next = fn(values[channel], values);
      if (next === undefined) delete values[channel];
      else values[channel] = next;
      versions[channel] = bump();
      changed.add(channel);
    }
    for (const channel of step.drop ?? []) {
      delete values[channel];
      delete versions[channel];
      changed.delete(channel);
      for (const s of Object.values(seen)) delete s[channel];
    }
  }
  return {
    checkpoint: {
      ...cp,
      id: uuid6(-1),
      ts: new Date().toISOString(),
      channel_values: values,
      channel_versions: versions,
      versions_seen: seen,
    },
    changed: [...changed],
  };
}
