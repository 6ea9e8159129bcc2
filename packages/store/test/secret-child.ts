/**
 * Test helper: opens a store and prints `sharedSecret(name)` as hex on stdout.
 * argv: target, options JSON, name
 */
import { writeSync } from 'node:fs';
import { openStore } from '../src/index';

const [target, optsJson, name] = process.argv.slice(2);

const store = await openStore(target!, JSON.parse(optsJson!) as Record<string, unknown>);
const secret = await store.sharedSecret(name!);
await store.close();
writeSync(1, secret.toString('hex') + '\n');
