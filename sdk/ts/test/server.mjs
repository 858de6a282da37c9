// startServer gives a test a running Potential to call: the one named by
// POTENTIAL_URL (with POTENTIAL_API_KEY), or else a fresh `potential serve`
// built from this repository, on ports the system picks, on the in-memory
// store, with a random bootstrap key — stopped again by stop().
//
// With demoCustomers > 0 it waits until the demo tenant is loaded and its
// value model fitted (the server logs "demo data loaded"), so every
// customer has an assessment. Used by sdk/ts's tests and web's e2e test.
import { spawn, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** The repository's root, three levels above this file. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/**
 * @param {{ demoCustomers?: number, timeoutMs?: number }} [options]
 * @returns {Promise<{ url: string, key: string, external: boolean, logs: () => string, stop: () => Promise<void> }>}
 */
export async function startServer({ demoCustomers = 0, timeoutMs = 180_000 } = {}) {
  if (process.env.POTENTIAL_URL) {
    const key = process.env.POTENTIAL_API_KEY;
    if (!key) throw new Error("POTENTIAL_URL is set but POTENTIAL_API_KEY is not");
    return { url: process.env.POTENTIAL_URL.replace(/\/$/, ""), key, external: true, logs: () => "", stop: async () => {} };
  }

  const dir = mkdtempSync(join(tmpdir(), "potential-test-"));
  const bin = join(dir, "potential");
  execFileSync("go", ["build", "-o", bin, "./cmd/potential"], { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"] });

  const key = `pk_test_${randomBytes(12).toString("hex")}`;
  const child = spawn(
    bin,
    ["serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--log-format", "json",
      "--demo-customers", String(demoCustomers)],
    { env: { ...process.env, POTENTIAL_BOOTSTRAP_KEY: key }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const exited = new Promise((res) => child.once("exit", (code, signal) => res({ code, signal })));
  const onExit = () => child.kill("SIGKILL");
  process.once("exit", onExit);

  const log = [];
  const stop = async () => {
    process.removeListener("exit", onExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const url = await new Promise((resolveReady, reject) => {
      let url = "";
      let demoDone = demoCustomers === 0;
      const timer = setTimeout(() => reject(new Error(`server not ready within ${timeoutMs} ms`)), timeoutMs);
      const ready = () => {
        if (url && demoDone) {
          clearTimeout(timer);
          resolveReady(url);
        }
      };
      exited.then(({ code, signal }) => reject(new Error(`server exited (${code ?? signal}) before it was ready`)));
      createInterface({ input: child.stdout }).on("line", (line) => {
        log.push(line);
        const m = /Connect\/gRPC-Web\/gRPC on (\S+)/.exec(line);
        if (m) {
          url = `http://${m[1]}`;
          ready();
        }
      });
      createInterface({ input: child.stderr }).on("line", (line) => {
        log.push(line);
        let entry;
        try {
          entry = JSON.parse(line);
        } catch {
          return;
        }
        if (entry.msg === "demo data not loaded" || entry.msg === "demo value model not fitted") {
          reject(new Error(`the demo tenant is not ready (${entry.msg}): ${entry.error}`));
        } else if (entry.msg === "demo data loaded") {
          demoDone = true;
          ready();
        }
      });
    });
    return { url, key, external: false, logs: () => log.join("\n"), stop };
  } catch (err) {
    await stop();
    // The server's own words, less its per-call request log.
    const said = log.filter((l) => !/"level":"INFO"/.test(l));
    err.message += `\nserver output:\n${said.slice(-40).join("\n")}`;
    throw err;
  }
}
