#!/usr/bin/env node
// Builds the optional native matMul (src/native/fprl_native.cc -> build/Release/fprl_native.node)
// with the node-gyp that npm ships. Run by `npm install` / `npm ci` (the package's install script)
// and by `npm run build:native`. It never fails the install: without a C++ toolchain the wasm
// backend keeps its XNNPACK matMul and only speed differs (`fprl bench` says which one runs).
// FPRL_NATIVE=0 skips the build.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const strict = process.argv.includes('--strict');

function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(
      path.dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
  ];
  for (const c of candidates) if (c && fs.existsSync(c)) return [process.execPath, [c]];
  return ['node-gyp', []];
}

function done(message, ok) {
  process.stderr.write(`fprl: ${message}\n`);
  process.exit(ok || !strict ? 0 : 1);
}

if (process.env.FPRL_NATIVE === '0')
  done('FPRL_NATIVE=0: native matMul not built (the wasm backend uses XNNPACK)', true);
if (!fs.existsSync(path.join(root, 'binding.gyp'))) done('no binding.gyp: native matMul not built', true);

// Build against the headers of the running Node when they are installed beside it (Debian's and the
// official tarballs have them), so node-gyp does not try to download them.
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
}

const [cmd, pre] = nodeGyp();
const res = spawnSync(cmd, [...pre, 'rebuild', ...nodedirArgs()], {
  cwd: root,
  stdio: strict ? 'inherit' : 'pipe',
  encoding: 'utf8',
});
if (res.status === 0) {
  done('native matMul built (build/Release/fprl_native.node)', true);
} else {
  const why = res.error ? res.error.message : (res.stderr || '').trim().split('\n').slice(-3).join(' | ');
  done(
    `native matMul not built (${why || `node-gyp exited with ${res.status}`}); the wasm backend uses XNNPACK. ` +
      'Install a C++ compiler and python3, then `npm run build:native` to see the whole log.',
    false,
  );
}
