import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '@baton/store';
import { forkCases } from './fork.case';

forkCases('sqlite', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-lg-fork-'));
  const store = await openStore(path.join(dir, 'store.db'));
  return {
    store,
    async close() {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});
