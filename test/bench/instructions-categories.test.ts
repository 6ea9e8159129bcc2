/** The instructions bench's grouping of callgrind's function names (bench/instructions/categories.ts). */
import { describe, expect, it } from 'vitest';
import { categoryOf } from '../../bench/instructions/categories';

describe('instructions by where they go', () => {
  it('groups callgrind function names as the bench reports them', () => {
    const cases: Array<[string, string]> = [
      ['???:v8::internal::compiler::GraphReducer::ReduceTop() [/usr/bin/node]', 'compile'],
      ['???:v8::internal::Scanner::Next() [/usr/bin/node]', 'compile'],
      ['???:heap::base::SlotCallbackResult v8::internal::Scavenger::ScavengeObject<…> [/usr/bin/node]', 'gc'],
      ['???:sqlite3VdbeExec [/x/node_modules/better-sqlite3/build/Release/better_sqlite3.node]', 'sqlite'],
      ['???:sha256_block_data_order_avx2 [/usr/bin/node]', 'crypto'],
      ['???:v8::internal::JsonStringifier::SerializeString(…) [/usr/bin/node]', 'json'],
      ['./malloc/./malloc/malloc.c:_int_free [/usr/lib/x86_64-linux-gnu/libc.so.6]', 'libc and node'],
      ['???:0x000000000d0c4b54 [???]', 'jit code'],
      ['???:Builtins_LoadIC [/usr/bin/node]', 'builtins'],
      ['???:v8::internal::JSObject::MigrateToMap(…) [/usr/bin/node]', 'rest of v8'],
    ];
    for (const [fn, want] of cases) expect([fn, categoryOf(fn)]).toEqual([fn, want]);
  });
});
