// Bundles the ext-apps App for sf-mcp's in-chat views into one minified script, committed at
// src/sf_mcp/server/apps/static/ext-apps.js so `make demo` needs no npm. `make ui` runs it;
// `node build.mjs --out FILE` writes elsewhere (the freshness test compares the two).
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const out = args[0] === "--out" ? path.resolve(args[1])
  : path.join(here, "..", "src", "sf_mcp", "server", "apps", "static", "ext-apps.js");
const version = (name) => JSON.parse(readFileSync(path.join(here, "node_modules", name, "package.json"), "utf8")).version;

await build({
  entryPoints: [path.join(here, "entry.js")],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  legalComments: "none",
  charset: "utf8",
  banner: { js: `/* @modelcontextprotocol/ext-apps ${version("@modelcontextprotocol/ext-apps")} (MIT), bundled by ui/build.mjs with esbuild ${version("esbuild")}: do not edit, run make ui */` },
  outfile: out,
  logLevel: "warning",
});
