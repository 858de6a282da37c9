// Builds the dashboard with esbuild.
//
//   node build.mjs          dist/: what web.go embeds into the binary —
//                           minified, no source maps, file names hashed from
//                           their content, so the same sources and
//                           package-lock.json give the same bytes (dist/ is
//                           committed; scripts/check-generated rebuilds and
//                           compares it).
//   node build.mjs --serve  a development server on 127.0.0.1:5173 (PORT)
//                           that rebuilds on every change and forwards API
//                           calls (/potential.*) to POTENTIAL_URL (default
//                           http://localhost:8080), so the page and the API
//                           share an origin as under potential serve.
//
// esbuild rather than Vite: Vite's bundler, Rollup, ships its native
// binaries as per-platform packages, and a registry without all of them
// leaves a package-lock.json that `npm ci` rejects; esbuild has no such gap.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const web = dirname(fileURLToPath(import.meta.url));
const serve = process.argv.includes("--serve");
const out = serve ? join(web, ".dev") : join(web, "dist");

/** @type {esbuild.BuildOptions} */
const options = {
  absWorkingDir: web,
  entryPoints: ["src/main.tsx"],
  bundle: true,
  splitting: true,
  format: "esm",
  target: "es2022",
  outdir: out,
  entryNames: serve ? "assets/[name]" : "assets/[name]-[hash]",
  chunkNames: "assets/[name]-[hash]",
  assetNames: "assets/[name]-[hash]",
  jsx: "automatic",
  jsxImportSource: "preact",
  // ../gen/ts imports the protobuf runtime by bare name from outside this
  // package: resolve such names from here.
  nodePaths: [join(web, "node_modules")],
  minify: !serve,
  sourcemap: serve ? "inline" : false,
  metafile: true,
  logLevel: "warning",
};

/** page writes index.html naming the entry script and its style sheet. */
function page(metafile) {
  const [file, meta] = Object.entries(metafile.outputs).find(([, o]) => o.entryPoint === "src/main.tsx");
  const url = (f) => "/" + relative(out, join(web, f)).split("\\").join("/");
  let html = readFileSync(join(web, "index.html"), "utf8").replace(
    /<script type="module" src="\/src\/main.tsx"><\/script>/,
    `<script type="module" src="${url(file)}"></script>`,
  );
  if (meta.cssBundle) html = html.replace("</head>", `  <link rel="stylesheet" href="${url(meta.cssBundle)}" />\n  </head>`);
  writeFileSync(join(out, "index.html"), html);
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
cpSync(join(web, "public"), out, { recursive: true });

if (!serve) {
  const result = await esbuild.build(options);
  page(result.metafile);
} else {
  const ctx = await esbuild.context({
    ...options,
    plugins: [{ name: "page", setup: (b) => b.onEnd((r) => r.metafile && page(r.metafile)) }],
  });
  await ctx.watch();
  const { hosts, port: esPort } = await ctx.serve({ servedir: out, host: "127.0.0.1", port: 0 });
  const api = new URL(process.env.POTENTIAL_URL ?? "http://localhost:8080");
  const port = Number(process.env.PORT ?? 5173);
  http
    .createServer((req, res) => {
      const toApi = req.url.startsWith("/potential.");
      const target = toApi
        ? { hostname: api.hostname, port: api.port || 80 }
        : { hostname: hosts[0], port: esPort };
      const fwd = http.request({ ...target, path: req.url, method: req.method, headers: { ...req.headers, host: `${target.hostname}:${target.port}` } }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      fwd.on("error", (err) => {
        res.writeHead(502, { "content-type": "text/plain" });
        res.end(String(err));
      });
      req.pipe(fwd);
    })
    .listen(port, "127.0.0.1", () => console.log(`dashboard on http://127.0.0.1:${port}/ (API: ${api.origin})`));
}
