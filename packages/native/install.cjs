// Builds the native mask kernel with node-gyp at install time. It is optional: where no
// compiler, no Node headers or no node-gyp is at hand, it says so and exits 0, and
// @tally/secagg uses its WebAssembly / JavaScript kernel (same masks, slower).
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { dirname, join } = require('node:path');

if (process.env.TALLY_NATIVE_SKIP_BUILD === '1') {
  console.log('@tally/native: TALLY_NATIVE_SKIP_BUILD=1, not building the native mask kernel');
  process.exit(0);
}

/** node-gyp: the one the package manager names, else npm's own next to this node. */
function findNodeGyp() {
  const named = process.env.npm_config_node_gyp;
  if (named && existsSync(named)) return named;
  const prefix = dirname(dirname(process.execPath));
  for (const p of [join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'), join(prefix, 'node_modules/npm/node_modules/node-gyp/bin/node-gyp.js')]) {
    if (existsSync(p)) return p;
  }
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return null;
  }
}

const gyp = findNodeGyp();
const why = (() => {
  if (gyp === null) return 'node-gyp was not found';
  // Node's own headers where its install ships them (official builds do): no download.
  const prefix = dirname(dirname(process.execPath));
  const args = [gyp, 'rebuild'];
  if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include/node/common.gypi'))) args.push(`--nodedir=${prefix}`);
  const r = spawnSync(process.execPath, args, { cwd: __dirname, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (r.status === 0) return null;
  const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-6).join('\n');
  return `node-gyp rebuild exited ${r.status ?? r.signal}${tail ? `:\n${tail}` : ''}`;
})();
if (why === null) {
  console.log('@tally/native: built the native mask kernel (build/Release/tally_native.node)');
} else {
  console.warn(`@tally/native: could not build the native mask kernel (${why})\n@tally/native: Tally still works; masks are expanded in WebAssembly/JavaScript instead (about 2-4x slower).`);
}
