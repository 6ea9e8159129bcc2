#!/usr/bin/env node
// Runs the TypeScript entry through tsx's ESM loader.
import { register } from 'tsx/esm/api';

register();
await import('../src/bin.ts');
