// Builds the widget into one minified ES2020 file shipped in the wheel.
// `node build.mjs` writes it; `node build.mjs --check` fails if the committed file differs from a
// fresh build, grows past the size limit, or calls eval / new Function.
import { build, transform } from "esbuild";
import { readFileSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const OUTPUT = fileURLToPath(new URL("../searchqa/api/widget_assets/widget.js", import.meta.url));
const GZIP_LIMIT = 50 * 1024;
const GZIP_TARGET = 40 * 1024;
const check = process.argv.includes("--check");

/** `import text from "./x.css"`: the stylesheet, minified, as a string. */
const minifiedCss = {
  name: "minified-css",
  setup(build) {
    build.onLoad({ filter: /\.css$/ }, async (args) => {
      const { code } = await transform(await readFile(args.path, "utf8"), { loader: "css", minify: true });
      return { contents: code.trim(), loader: "text" };
    });
  },
};

const result = await build({
  absWorkingDir: fileURLToPath(new URL(".", import.meta.url)),
  entryPoints: ["src/index.ts"],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  platform: "browser",
  legalComments: "eof",
  write: false,
  outfile: "widget.js",
  logLevel: "warning",
  plugins: [minifiedCss],
});
const bundle = Buffer.from(result.outputFiles[0].contents);
const gzipped = gzipSync(bundle, { level: 9 }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log(`widget.js: ${kb(bundle.length)} raw, ${kb(gzipped)} gzip (limit ${kb(GZIP_LIMIT)}, target ${kb(GZIP_TARGET)})`);

const problems = [];
if (gzipped > GZIP_LIMIT) problems.push(`the bundle is ${kb(gzipped)} gzipped, over the ${kb(GZIP_LIMIT)} limit`);
if (/\beval\(|new Function\(/.test(bundle.toString("utf8"))) problems.push("the bundle calls eval or new Function");
if (check) {
  let committed = null;
  try {
    committed = readFileSync(OUTPUT);
  } catch {
    problems.push(`${OUTPUT} is missing; run npm run build`);
  }
  if (committed && !committed.equals(bundle)) {
    problems.push(`${OUTPUT} differs from a fresh build of widget/src; run npm run build and commit it`);
  }
} else {
  writeFileSync(OUTPUT, bundle);
}
if (problems.length) {
  for (const problem of problems) console.error(`error: ${problem}`);
  process.exit(1);
}
