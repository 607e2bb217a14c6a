// Build the viewer into dist/ (served by Streamlit as the component "rcp_dicom_viewer").
// Run by scripts/setup.sh after `npm ci`: node build.mjs
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const loader = join(here, "node_modules/@cornerstonejs/dicom-image-loader/dist/esm");
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, "codecs"), { recursive: true });

const common = {
  bundle: true,
  format: "esm",
  minify: true,
  sourcemap: false,
  target: ["chrome110", "firefox115", "safari16"],
  logLevel: "warning",
  legalComments: "linked",
  // Emscripten's Node.js branches (never taken in a browser) and Node-only helpers.
  external: ["fs", "path", "crypto", "module", "worker_threads"],
  // Loaded at start by an XML helper of Cornerstone's tools: browser versions.
  alias: { events: "events/", url: join(here, "src/shims/node-url.js") },
};
// The page: our code with Cornerstone3D (dynamic imports become chunks).
await build({
  ...common,
  entryPoints: { viewer: join(here, "src/viewer.js") },
  outdir: dist,
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
});
// The decoding worker, which the loader starts as new URL('./decodeImageFrameWorker.js').
await build({
  ...common,
  entryPoints: { decodeImageFrameWorker: join(loader, "decodeImageFrameWorker.js") },
  outdir: dist,
});
// The WebAssembly codecs, found through decodeConfig.wasmBasePath = "codecs/".
for (const codec of ["charls", "libjpeg-turbo-8bit", "openjpeg", "openjph", "libjxl"]) {
  const from = join(here, "node_modules/@cornerstonejs", `codec-${codec}`, "dist");
  for (const name of readdirSync(from)) {
    if (name.endsWith(".wasm") && !name.includes("encode")) {
      copyFileSync(join(from, name), join(dist, "codecs", name));
    }
  }
}
copyFileSync(join(here, "src/index.html"), join(dist, "index.html"));
copyFileSync(join(here, "src/viewer.css"), join(dist, "viewer.css"));
