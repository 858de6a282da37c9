// The dashboard: sign-in, customers, one customer's assessment, and the
// tenant's distributions (routes: route.ts).
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { apiKey, signOut, whenUnauthenticated } from "./api";
import { CustomerPage } from "./customer";
import { CustomersPage } from "./customers";
import { useLoad } from "./load";
import { useRoute } from "./route";
import { SignIn } from "./signin";
import "./style.css";

/** Insights loads its module (and Chart.js with it) on first use. */
function Insights() {
  const mod = useLoad(() => import("./insights"), []);
  if (mod.state === "loading") return <p class="muted">Loading…</p>;
  if (mod.state === "error")
    return (
      <p class="error" role="alert">
        {mod.error}
      </p>
    );
  return <mod.value.InsightsPage />;
}

function App() {
  const route = useRoute();
  const [signedIn, setSignedIn] = useState(() => apiKey() !== null);
  useEffect(() => whenUnauthenticated(() => (signOut(), setSignedIn(false))), []);

  if (!signedIn) return <SignIn onSignedIn={() => setSignedIn(true)} />;

  const [section, id] = route.path;
  let page;
  let title;
  if (section === "customers" && id) {
    page = <CustomerPage key={id} id={id} />;
    title = "Customer";
  } else if (section === "insights") {
    page = <Insights />;
    title = "Insights";
  } else {
    page = <CustomersPage query={route.query} />;
    title = "Customers";
  }
  document.title = `${title} · Potential`;
  const current = section === "insights" ? "insights" : "customers";
  return (
    <>
      <header class="bar">
        <a class="brand" href="#/customers">
          <img src="/favicon.svg" alt="" width="22" height="22" /> Potential
        </a>
        <nav>
          <a href="#/customers" aria-current={current === "customers" ? "page" : undefined}>
            Customers
          </a>
          <a href="#/insights" aria-current={current === "insights" ? "page" : undefined}>
            Insights
          </a>
        </nav>
        <button
          class="link"
          onClick={() => {
            signOut();
            setSignedIn(false);
          }}
        >
          Sign out
        </button>
      </header>
      <main>{page}</main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
