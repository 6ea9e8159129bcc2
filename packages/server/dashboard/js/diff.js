// A structural diff of two JSON values: the paths added, removed and changed between them.

const isObj = (x) => x !== null && typeof x === 'object' && !Array.isArray(x);

/** [{path, kind: 'added'|'removed'|'changed', before?, after?}] in path order. */
export function structuralDiff(a, b, path = '') {
  if (isObj(a) && isObj(b)) {
    const out = [];
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      const p = path ? `${path}.${k}` : k;
      if (!(k in b)) out.push({ path: p, kind: 'removed', before: a[k] });
      else if (!(k in a)) out.push({ path: p, kind: 'added', after: b[k] });
      else out.push(...structuralDiff(a[k], b[k], p));
    }
    return out;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const out = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const p = `${path}[${i}]`;
      if (i >= b.length) out.push({ path: p, kind: 'removed', before: a[i] });
      else if (i >= a.length) out.push({ path: p, kind: 'added', after: b[i] });
      else out.push(...structuralDiff(a[i], b[i], p));
    }
    return out;
  }
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  return [{ path: path || '(root)', kind: 'changed', before: a, after: b }];
}

/**
 * Pairs of a removed and an added top-level field holding the same kind of value: likely renames
 * (e.g. `orderId` → `orders`), shown as such next to the plain diff.
 */
export function likelyRenames(diff) {
  const removed = diff.filter((d) => d.kind === 'removed' && !d.path.includes('.') && !d.path.includes('['));
  const added = diff.filter((d) => d.kind === 'added' && !d.path.includes('.') && !d.path.includes('['));
  const out = [];
  for (const r of removed) {
    const prefix = r.path.replace(/(Id|Ids|_id)$/, '').toLowerCase();
    const a = added.find((x) => x.path.toLowerCase().startsWith(prefix) && prefix.length >= 3);
    if (a) out.push({ from: r.path, to: a.path });
  }
  return out;
}
