import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '@baton/store';
import { remoteCases } from './remote.case';

remoteCases('sqlite', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-lg-remote-'));
  const store = await openStore(path.join(dir, 'baton.db'));
  return {
    store,
    async dispose() {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});
