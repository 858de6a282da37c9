// `npm test`: builds the SDK and its tests, starts a Potential server
// (test/server.mjs; or uses POTENTIAL_URL and POTENTIAL_API_KEY when set),
// runs the tests against it with Node's test runner, and stops it.
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer } from "./server.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "..");
const tsc = join(pkg, "node_modules/.bin/tsc");
execFileSync(tsc, ["-p", "tsconfig.json"], { cwd: pkg, stdio: "inherit" });
execFileSync(tsc, ["-p", "test/tsconfig.json"], { cwd: pkg, stdio: "inherit" });
const files = readdirSync(join(here, "dist"))
  .filter((f) => f.endsWith(".test.js"))
  .map((f) => join(here, "dist", f));

// A small demo tenant, fitted, for the value-model tests to refit.
const server = await startServer({ demoCustomers: 300 });
let status = 1;
try {
  const res = spawnSync(process.execPath, ["--test", ...files], {
    stdio: "inherit",
    env: { ...process.env, POTENTIAL_URL: server.url, POTENTIAL_API_KEY: server.key },
  });
  status = res.status ?? 1;
} finally {
  await server.stop();
}
process.exit(status);
