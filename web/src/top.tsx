// Top customers (ScoringService.ListTopCustomers): whom to work on first,
// ranked by grade, score, predicted value or value at risk, with each
// customer's grade and score beside its values.
import { useState } from "preact/hooks";
import { api, TopCustomerOrder } from "./api";
import { fixed, money } from "./format";
import { useLoad } from "./load";
import { href } from "./route";

const PAGE_SIZE = 50;

const orders: { value: TopCustomerOrder; label: string }[] = [
  { value: TopCustomerOrder.GRADE, label: "Grade, best first" },
  { value: TopCustomerOrder.SCORE, label: "Score, highest first" },
  { value: TopCustomerOrder.PREDICTED_VALUE, label: "Predicted value, highest first" },
  { value: TopCustomerOrder.VALUE_AT_RISK, label: "Value at risk, highest first" },
];

export function TopPage({ query }: { query: URLSearchParams }) {
  const order = Number(query.get("order") ?? TopCustomerOrder.GRADE) as TopCustomerOrder;
  const [paging, setPaging] = useState({ order, before: [] as string[], token: "" });
  const cur = paging.order === order ? paging : { order, before: [] as string[], token: "" };
  const page = useLoad(
    () => api().scoring.listTopCustomers({ orderBy: order, pageSize: PAGE_SIZE, pageToken: cur.token }),
    [order, cur.token],
  );
  const rank0 = cur.before.length * PAGE_SIZE;
  return (
    <section>
      <h1>Top customers</h1>
      <div class="filters">
        <div class="field">
          <label for="top-order">Rank by</label>
          <select
            id="top-order"
            value={String(order)}
            onChange={(e) => (location.hash = href(["top"], { order: e.currentTarget.value }))}
          >
            {orders.map((o) => (
              <option value={String(o.value)}>{o.label}</option>
            ))}
          </select>
        </div>
      </div>
      {page.state === "loading" && <p class="muted">Loading…</p>}
      {page.state === "error" && (
        <p class="error" role="alert">
          {page.error}
        </p>
      )}
      {page.state === "done" && page.value.customers.length === 0 && <p class="muted">No customers yet.</p>}
      {page.state === "done" && page.value.customers.length > 0 && (
        <>
          <table class="list" id="top">
            <thead>
              <tr>
                <th class="num">#</th>
                <th>Name</th>
                <th>CRM id</th>
                <th>Grade</th>
                <th class="num">Composite</th>
                <th class="num">Score</th>
                <th class="num">Predicted value</th>
                <th class="num">Value at risk</th>
              </tr>
            </thead>
            <tbody>
              {page.value.customers.map((c, i) => (
                <tr data-customer-id={c.customerId}>
                  <td class="num muted">{rank0 + i + 1}</td>
                  <td>
                    <a href={href(["customers", c.customerId])}>{c.displayName || c.externalId}</a>
                  </td>
                  <td class="mono">{c.externalId}</td>
                  <td>{c.grade ? <span class="grade small">{c.grade}</span> : "–"}</td>
                  <td class="num">{fixed(c.composite)}</td>
                  <td class="num">{String(c.score)}</td>
                  <td class="num">{money(c.predictedValue)}</td>
                  <td class="num">{money(c.valueAtRisk)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <nav class="pager" aria-label="Pages">
            <button
              disabled={cur.before.length === 0}
              onClick={() => setPaging({ order, before: cur.before.slice(0, -1), token: cur.before[cur.before.length - 1] })}
            >
              ← Previous
            </button>
            <span class="muted">Page {cur.before.length + 1}</span>
            <button
              disabled={!page.value.nextPageToken}
              onClick={() => setPaging({ order, before: [...cur.before, cur.token], token: page.value.nextPageToken })}
            >
              Next →
            </button>
          </nav>
        </>
      )}
    </section>
  );
}
