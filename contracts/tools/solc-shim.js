#!/usr/bin/env node
/**
 * solc-shim: a minimal `solc` command-line front end over solc-js (npm `solc`).
 *
 * No native solc binary can be downloaded on our build machines (no internet
 * beyond the package registries), but forge accepts any executable as its
 * compiler (`solc = "tools/solc"` in foundry.toml with `offline = true`). Forge
 * only ever calls two forms, and this shim implements exactly those:
 *
 *   solc --version
 *       Prints "Version: <full version>" as the last line (forge parses it).
 *
 *   solc [--base-path P] [--include-path P]... [--allow-paths P,...] --standard-json
 *       Reads the standard-JSON input from stdin, compiles it with solc-js and
 *       writes the standard-JSON output to stdout. Imports that are not in the
 *       input's `sources` are resolved from the base path, the include paths,
 *       the working directory and ./node_modules (in that order).
 *
 * IMPORTANT: the output is written with blocking `fs.writeSync` calls and the
 * process ends on its own. `process.stdout.write(big); process.exit()` cuts the
 * JSON at 64 KiB when stdout is a pipe (forge then fails with "EOF while
 * parsing a string at line 1 column 65536").
 *
 * Any other invocation exits with status 2 and a message on stderr.
 */
'use strict';

const fs = require('fs');
const path = require('path');

const solc = require(path.join(__dirname, '..', 'node_modules', 'solc'));

/** Writes all of `text` to file descriptor `fd`, retrying on EAGAIN (non-blocking pipes). */
function writeAllSync(fd, text) {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (err) {
      if (err.code !== 'EAGAIN') throw err;
      // The reader has not drained the pipe yet: wait briefly and retry.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
}

/** Reads all of stdin synchronously (works for pipes, files and ttys). */
function readStdinSync() {
  const chunks = [];
  const buf = Buffer.alloc(1 << 16);
  for (;;) {
    let n;
    try {
      n = fs.readSync(0, buf, 0, buf.length, null);
    } catch (err) {
      if (err.code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
        continue;
      }
      if (err.code === 'EOF') break;
      throw err;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseArgs(argv) {
  const opts = { version: false, standardJson: false, basePath: null, includePaths: [], unknown: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const takeValue = () => {
      const eq = a.indexOf('=');
      if (eq !== -1) return a.slice(eq + 1);
      i += 1;
      return argv[i];
    };
    if (a === '--version') opts.version = true;
    else if (a === '--standard-json') opts.standardJson = true;
    else if (a === '--base-path' || a.startsWith('--base-path=')) opts.basePath = takeValue();
    else if (a === '--include-path' || a.startsWith('--include-path=')) opts.includePaths.push(takeValue());
    else if (a === '--allow-paths' || a.startsWith('--allow-paths=')) takeValue(); // solc-js reads nothing by itself
    else opts.unknown.push(a);
  }
  return opts;
}

/** Builds the solc-js import callback: first existing file among the search roots wins. */
function makeResolver(opts) {
  const roots = [];
  if (opts.basePath) roots.push(path.resolve(opts.basePath));
  for (const p of opts.includePaths) roots.push(path.resolve(p));
  roots.push(process.cwd());
  roots.push(path.resolve(process.cwd(), 'node_modules'));
  roots.push(path.resolve(__dirname, '..', 'node_modules'));
  return function findImports(importPath) {
    const candidates = path.isAbsolute(importPath)
      ? [importPath]
      : roots.map((root) => path.join(root, importPath));
    for (const file of candidates) {
      try {
        return { contents: fs.readFileSync(file, 'utf8') };
      } catch (_) {
        // try the next root
      }
    }
    return { error: `File not found: ${importPath} (searched: ${roots.join(', ')})` };
  };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.version) {
    writeAllSync(1, `solc, the solidity compiler commandline interface (solc-js shim)\nVersion: ${solc.version()}\n`);
    return 0;
  }
  if (!opts.standardJson || opts.unknown.length > 0) {
    writeAllSync(2, `solc-shim: unsupported arguments: ${process.argv.slice(2).join(' ')}\n` +
      'usage: solc --version | solc [--base-path P] [--include-path P] [--allow-paths P] --standard-json < input.json\n');
    return 2;
  }
  const input = readStdinSync();
  const output = solc.compile(input, { import: makeResolver(opts) });
  writeAllSync(1, output);
  return 0;
}

process.exitCode = main();
