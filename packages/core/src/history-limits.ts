/** Largest history window an agent version may declare (its manifest is refused beyond it). */
export const MAX_HISTORY_WINDOW = { entries: 1000, bytes: 8 * 1024 * 1024 } as const;
