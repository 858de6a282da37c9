// The dashboard: sign-in, customers, one customer's assessment, and the
// tenant's distributions (routes: route.ts).
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { apiKey, signOut, whenUnauthenticated } from "./api";
import { CustomerPage } from "./customer";
import { CustomersPage } from "./customers";
import { SegmentPage, SegmentsPage } from "./segments";
import { TopPage } from "./top";
import { useLoad } from "./load";
import { useRoute } from "./route";
import { SignIn } from "./signin";
import "./style.css";

/** Lazy shows a page whose module (and Chart.js with it) loads on first use. */
function Lazy(props: { load: () => Promise<preact.FunctionComponent> }) {
  const mod = useLoad(props.load, []);
  if (mod.state === "loading") return <p class="muted">Loading…</p>;
  if (mod.state === "error")
    return (
      <p class="error" role="alert">
        {mod.error}
      </p>
    );
  const Page = mod.value;
  return <Page />;
}

const loadInsights = () => import("./insights").then((m) => m.InsightsPage);
const loadGrading = () => import("./grading").then((m) => m.GradingPage);
const loadRules = () => import("./rules").then((m) => m.RulesPage);

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
  } else if (section === "segments" && id) {
    page = <SegmentPage key={id} id={id} />;
    title = id === "new" ? "New segment" : "Segment";
  } else if (section === "segments") {
    page = <SegmentsPage />;
    title = "Segments";
  } else if (section === "insights") {
    page = <Lazy key="insights" load={loadInsights} />;
    title = "Insights";
  } else if (section === "top") {
    page = <TopPage query={route.query} />;
    title = "Top customers";
  } else if (section === "rules") {
    page = <Lazy key="rules" load={loadRules} />;
    title = "Scoring rules";
  } else if (section === "grading") {
    page = <Lazy key="grading" load={loadGrading} />;
    title = "Grading";
  } else {
    page = <CustomersPage query={route.query} />;
    title = "Customers";
  }
  document.title = `${title} · Potential`;
  const current = ["top", "segments", "insights", "rules", "grading"].includes(section) ? section : "customers";
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
          <a href="#/top" aria-current={current === "top" ? "page" : undefined}>
            Top customers
          </a>
          <a href="#/segments" aria-current={current === "segments" ? "page" : undefined}>
            Segments
          </a>
          <a href="#/insights" aria-current={current === "insights" ? "page" : undefined}>
            Insights
          </a>
          <a href="#/rules" aria-current={current === "rules" ? "page" : undefined}>
            Scoring rules
          </a>
          <a href="#/grading" aria-current={current === "grading" ? "page" : undefined}>
            Grading
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
