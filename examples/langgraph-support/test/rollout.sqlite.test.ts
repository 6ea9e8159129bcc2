import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '@baton/store';
import { rolloutCases } from './rollout.case';

rolloutCases('sqlite', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-lg-e2e-'));
  const store = await openStore(path.join(dir, 'baton.db'));
  return {
    store,
    async dispose() {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});
