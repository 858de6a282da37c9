// `npm test`: the end-to-end test of the dashboard.
//
//   1. builds dist/ from the sources (what potential serve embeds), and
//      the test itself (esbuild: e2e/dashboard.test.ts → .e2e/);
//   2. builds and starts potential serve on the in-memory store with its
//      demo tenant, on ports the system picks, with a random key — or uses
//      the server at POTENTIAL_URL with POTENTIAL_API_KEY;
//   3. runs the test with Node's test runner in Debian's Chromium
//      (/usr/bin/chromium, or CHROMIUM), then stops the server.
//
// Screenshots go to .e2e/screenshots, or to POTENTIAL_SCREENSHOTS
// (`npm run screenshots` writes the committed ones in ../docs/screenshots).
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { startServer } from "../../sdk/ts/test/server.mjs";

const web = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(web, "node_modules/.bin", name);

execFileSync(bin("tsc"), ["-p", "tsconfig.json"], { cwd: web, stdio: "inherit" });
execFileSync(bin("tsc"), ["-p", "e2e/tsconfig.json"], { cwd: web, stdio: "inherit" });
execFileSync(process.execPath, ["build.mjs"], { cwd: web, stdio: "inherit" });
const out = join(web, ".e2e/dashboard.test.mjs");
await build({
  entryPoints: [join(web, "e2e/dashboard.test.ts")],
  outfile: out,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // Packages stay imports, resolved from web/node_modules at run time;
  // ../gen/ts is compiled in.
  packages: "external",
  logLevel: "warning",
});

const server = await startServer({ demoCustomers: 2000 });
let status = 1;
try {
  // Asynchronously: the server's logs reach it through pipes this process
  // must keep reading, or the server stops at its next log line.
  const child = spawn(process.execPath, ["--test", "--test-concurrency=1", out], {
    cwd: web,
    stdio: "inherit",
    env: {
      ...process.env,
      POTENTIAL_URL: server.url,
      POTENTIAL_API_KEY: server.key,
      POTENTIAL_SCREENSHOTS: resolve(web, process.env.POTENTIAL_SCREENSHOTS ?? ".e2e/screenshots"),
    },
  });
  const [code] = await once(child, "exit");
  status = code ?? 1;
} finally {
  await server.stop();
}
process.exit(status);
