// Sign-in: an API key, checked with one call, then kept in this tab's
// sessionStorage (gone when the tab closes) and sent as a Bearer token.
import { useState } from "preact/hooks";
import { message, signIn } from "./api";

export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  document.title = "Sign in · Potential";

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      await signIn(key.trim());
      onSignedIn();
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="signin">
      <form class="card" onSubmit={submit}>
        <h1>
          <img src="/favicon.svg" alt="" width="28" height="28" /> Potential
        </h1>
        <p class="muted">Who to work on first: value, churn risk and lifecycle of every customer.</p>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autocomplete="off"
          placeholder="pk_…"
          required
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
        />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || key.trim() === ""}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        <p class="muted small">The key is kept in this browser tab only, until you sign out or close it.</p>
      </form>
    </main>
  );
}
