/** Reading spec and config files (JSON or YAML) with errors that name the file and position. */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { BatonError, ValidationError } from '@baton/core';

/** Parse JSON or YAML text. `source` names the origin in error messages. */
export function parseDocument(text: string, source: string): unknown {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.parse(text);
    } catch (e) {
      // fall through to YAML (a superset of JSON) for its better positions
      void e;
    }
  }
  try {
    return parseYaml(text);
  } catch (e) {
    if (e instanceof YAMLParseError) {
      const pos = e.linePos?.[0];
      const where = pos ? `:${pos.line}:${pos.col}` : '';
      const msg = (e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
      throw new ValidationError(`${source}${where}: ${msg}`);
    }
    throw new ValidationError(`${source}: ${(e as Error).message}`);
  }
}

/** Read and parse a JSON/YAML file; `-` reads stdin. */
export async function readDocument(path: string): Promise<unknown> {
  let text: string;
  try {
    text = path === '-' ? await readStdin() : await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new BatonError('NOT_FOUND', `file not found: ${path}`);
    throw new ValidationError(`cannot read ${path}: ${(e as Error).message}`);
  }
  const doc = parseDocument(text, path === '-' ? 'stdin' : path);
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    throw new ValidationError(`${path}: expected a mapping (an object) at the top level`);
  return doc;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
