#!/usr/bin/env node
/**
 * The package's install script: builds the native addon where it can, and
 * never fails the install — the emulator backend works without it.
 *
 * On Linux it runs `npm run build:native` (node-gyp rebuild, run through npm
 * so that node-gyp finds Node's headers from npm's configuration, offline).
 * If that fails, it prints why the native backend is unavailable and exits 0.
 * On other systems it says native is Linux-only. IPCEMU_SKIP_NATIVE=1 skips
 * the build.
 */

import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function say(text) {
  process.stderr.write(`ipcemu: ${text}\n`);
}

if (process.env.IPCEMU_SKIP_NATIVE === '1') {
  say('IPCEMU_SKIP_NATIVE=1: the native addon was not built; openNative() will say so. The emulator works as usual.');
  process.exit(0);
}
if (process.platform !== 'linux') {
  say(`the native backend runs on Linux only (this is ${process.platform}); nothing to build. The emulator works as usual.`);
  process.exit(0);
}

// Under npm, npm_execpath is npm's own CLI: run it with this node, whatever PATH holds.
const npm = process.env.npm_execpath;
const command = npm ? process.execPath : 'npm';
const args = npm ? [npm, 'run', 'build:native'] : ['run', 'build:native'];
const run = spawnSync(command, args, { cwd: root, stdio: 'inherit' });

if (run.status !== 0) {
  const why = run.error ? run.error.message : run.signal ? `it was killed by ${run.signal}` : `it exited with code ${run.status}`;
  say([
    `WARNING: building the native addon failed (${why}; its output is above), so the native backend`,
    'is unavailable: openNative() will throw and explain. Everything else, the emulator included, works.',
    'Building needs a C++17 compiler, make and python3 (Debian: apt-get install g++ make python3), and',
    "Node's headers (npm's nodedir, or a download node-gyp makes). Retry with `npm run build:native`.",
  ].join('\n'));
}
process.exit(0);
