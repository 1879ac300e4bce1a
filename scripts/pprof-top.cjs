#!/usr/bin/env node
// An independent reader of syncbench's heap profiles: Datadog's `pprof-format` (npm)
// decodes the file, this script attributes live bytes to allocation sites with the rule
// syncbench states (innermost frame of the node's own crates outside the allocator,
// with the next different one of them as "via") and prints them, largest first:
//
//   npm install --prefix /tmp/pprof-reader pprof-format@2.3.2
//   NODE_PATH=/tmp/pprof-reader/node_modules node scripts/pprof-top.cjs RUN/heap/peak.pb.gz [N]
//
// Output: `total<TAB>BYTES`, then `BYTES<TAB>FUNCTION<TAB>VIA` lines (N, default 10).
// `.ci/run` compares it with the run's summary.json.
'use strict';
const fs = require('fs');
const zlib = require('zlib');
const { Profile } = require('pprof-format');

const [file, n = '10'] = process.argv.slice(2);
if (!file) {
  console.error('usage: pprof-top.cjs PROFILE.pb.gz [N]');
  process.exit(2);
}
const profile = Profile.decode(zlib.gunzipSync(fs.readFileSync(file)));
const str = (i) => profile.stringTable.strings[Number(i)] || '';
const fns = new Map(profile.function.map((f) => [Number(f.id), str(f.name)]));
const locs = new Map(profile.location.map((l) => [Number(l.id), l]));

const ours = (f) => {
  const g = f.replace(/^<+/, '');
  return g.startsWith('syncbench_') && !g.startsWith('syncbench_allocators');
};
// The same exact list as harness/src/heap/sites.rs (ALLOC_ENTRIES).
const ENTRIES = new Set([
  '__rust_alloc', '__rust_alloc_zeroed', '__rust_realloc', '__rg_alloc', '__rg_alloc_zeroed', '__rg_realloc',
  '__rdl_alloc', '__rdl_alloc_zeroed', '__rdl_realloc', 'malloc', 'calloc', 'realloc', 'posix_memalign', 'aligned_alloc',
]);
const entry = (f) => {
  const g = f.replace(/^__rustc::/, '');
  return ENTRIES.has(g) || g.includes(' as core::alloc::global::GlobalAlloc>::');
};

const sites = new Map();
let total = 0n;
for (const s of profile.sample) {
  const bytes = BigInt(s.value[0] || 0);
  total += bytes;
  // Leaf first; a location's lines are innermost first.
  const stack = s.locationId.flatMap((id) => (locs.get(Number(id))?.line || []).map((l) => fns.get(Number(l.functionId)) || ''));
  let from = 0;
  stack.forEach((f, i) => { if (entry(f)) from = i + 1; });
  const i = stack.findIndex((f, k) => k >= from && ours(f));
  if (i < 0) continue; // stacks outside the node's code: not compared
  const via = stack.slice(i + 1).find((f) => ours(f) && f !== stack[i]) || '';
  const key = `${stack[i]}\t${via}`;
  sites.set(key, (sites.get(key) || 0n) + bytes);
}
console.log(`total\t${total}`);
[...sites.entries()]
  // Largest first; ties by function, then via (the key is "function<TAB>via").
  .sort((a, b) => (b[1] > a[1] ? 1 : b[1] < a[1] ? -1 : a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  .slice(0, Number(n))
  .forEach(([k, v]) => console.log(`${v}\t${k}`));
