// Customers: search, filter by grade, segment membership, churn level,
// lifecycle stage and RFM segment, sort by predicted value or value at risk,
// page through. Everything the list shows comes from one ListCustomers call
// per page (each customer carries its grade and assessment summary); the
// drop-downs' choices come from GetGradeDistribution and ListSegments; the
// state lives in the URL.
import { useEffect, useState } from "preact/hooks";
import { api, ChurnLevel, LifecycleStage, RfmSegment, type Customer, type Segment } from "./api";
import {
  churnLabel,
  churnLevels,
  date,
  money,
  percent,
  segmentLabel,
  segments,
  slug,
  stageLabel,
  stages,
} from "./format";
import { useLoad } from "./load";
import { href } from "./route";

const PAGE_SIZE = 50;

/** Orders the list can take, as ListCustomers order_by values. */
const orders: { value: string; label: string }[] = [
  { value: "predicted_value desc", label: "Predicted value, highest first" },
  { value: "value_at_risk desc", label: "Value at risk, highest first" },
  { value: "total_spend desc", label: "Total spend, highest first" },
  { value: "p_alive", label: "Probability active, lowest first" },
  { value: "last_purchase_time desc", label: "Last purchase, newest first" },
  { value: "display_name", label: "Name, A to Z" },
];
const DEFAULT_ORDER = orders[0].value;

/** quote writes s as a filter string literal. */
function quote(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** isFilter tells a filter expression (`country = "PL"`) from search words. */
function isFilter(q: string): boolean {
  return /[=<>]/.test(q);
}

interface Params {
  q: string;
  grade: string;
  /** member is the id of the segment whose members are listed. */
  member: string;
  churn: string;
  stage: string;
  segment: string;
  order: string;
}

function params(query: URLSearchParams): Params {
  return {
    q: query.get("q") ?? "",
    grade: query.get("grade") ?? "",
    member: query.get("member") ?? "",
    churn: query.get("churn") ?? "",
    stage: query.get("stage") ?? "",
    segment: query.get("segment") ?? "",
    order: query.get("order") ?? DEFAULT_ORDER,
  };
}

/** conditions are the filter's parts from the drop-downs. */
function conditions(p: Params): string[] {
  const c: string[] = [];
  if (p.grade) c.push(`grade = ${quote(p.grade)}`);
  if (p.member) c.push(`segment = ${quote(p.member)}`);
  if (p.churn) c.push(`churn_level = ${p.churn}`);
  if (p.stage) c.push(`lifecycle_stage = ${p.stage}`);
  if (p.segment) c.push(`rfm_segment = ${p.segment}`);
  return c;
}

interface Page {
  customers: Customer[];
  next: string;
  /** searched is true for a word search, which is not paged. */
  searched: boolean;
}

/**
 * load fetches one page. Search words match a customer's CRM id, e-mail or
 * full name exactly (one ListCustomers call each, merged); anything with an
 * operator is passed through as a filter expression.
 */
async function load(p: Params, token: string): Promise<Page> {
  const c = conditions(p);
  const q = p.q.trim();
  if (q === "" || isFilter(q)) {
    const filter = [...(q ? [q] : []), ...c].join(" AND ");
    const res = await api().customers.listCustomers({ filter, orderBy: p.order, pageSize: PAGE_SIZE, pageToken: token });
    return { customers: res.customers, next: res.nextPageToken, searched: false };
  }
  const answers = await Promise.all(
    ["external_id", "email", "display_name"].map((field) =>
      api().customers.listCustomers({
        filter: [`${field} = ${quote(q)}`, ...c].join(" AND "),
        orderBy: p.order,
        pageSize: PAGE_SIZE,
      }),
    ),
  );
  const seen = new Set<string>();
  const customers = answers.flatMap((a) => a.customers).filter((x) => !seen.has(x.id) && seen.add(x.id));
  return { customers, next: "", searched: true };
}

/**
 * loadChoices reads what the grade and segment drop-downs offer: the grades
 * of the tenant's policy (and any still held from an earlier one), best
 * first, and every segment, the tenant's own first, each by name.
 */
async function loadChoices(): Promise<{ grades: string[]; segments: Segment[] }> {
  const [dist, segs] = await Promise.all([api().scoring.getGradeDistribution({}), api().segments.listSegments({})]);
  return {
    grades: dist.grades.map((g) => g.grade),
    segments: [...segs.segments].sort((a, b) => Number(a.builtIn) - Number(b.builtIn) || a.name.localeCompare(b.name)),
  };
}

export function CustomersPage({ query }: { query: URLSearchParams }) {
  const p = params(query);
  const key = JSON.stringify(p);
  // The page tokens of this query: those of the pages before the current
  // one, and the current one's. A new query starts again from its first page.
  const [paging, setPaging] = useState({ key, before: [] as string[], token: "" });
  const cur = paging.key === key ? paging : { key, before: [] as string[], token: "" };
  const page = useLoad(() => load(p, cur.token), [key, cur.token]);
  const [search, setSearch] = useState(p.q);
  const choices = useLoad(loadChoices, []);
  useEffect(() => setSearch(p.q), [p.q]);

  const go = (change: Partial<Params>) => {
    const next = { ...p, ...change };
    location.hash = href(["customers"], {
      q: next.q,
      grade: next.grade,
      member: next.member,
      churn: next.churn,
      stage: next.stage,
      segment: next.segment,
      order: next.order === DEFAULT_ORDER ? "" : next.order,
    });
  };

  return (
    <section>
      <h1>Customers</h1>
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          go({ q: search.trim() });
        }}
      >
        <div class="field grow">
          <label for="search">Search</label>
          <input
            id="search"
            type="search"
            value={search}
            placeholder={'CRM id, e-mail or full name — or a filter: country = "PL" AND total_spend > 500'}
            onInput={(e) => setSearch(e.currentTarget.value)}
          />
        </div>
        <button type="submit">Search</button>
        <Select id="grade" label="Grade" value={p.grade} onChange={(grade) => go({ grade })}>
          {choices.state === "done" &&
            choices.value.grades.map((g) => <option value={g}>{g}</option>)}
        </Select>
        <Select id="member" label="Segment" value={p.member} onChange={(member) => go({ member })}>
          {choices.state === "done" &&
            choices.value.segments.map((s) => <option value={s.id}>{s.name}</option>)}
        </Select>
        <Select id="churn" label="Churn risk" value={p.churn} onChange={(churn) => go({ churn })}>
          {churnLevels.map((l) => (
            <option value={slug(ChurnLevel, l)}>{churnLabel(l)}</option>
          ))}
        </Select>
        <Select id="stage" label="Lifecycle" value={p.stage} onChange={(stage) => go({ stage })}>
          {stages.map((s) => (
            <option value={slug(LifecycleStage, s)}>{stageLabel(s)}</option>
          ))}
        </Select>
        <Select id="segment" label="RFM segment" value={p.segment} onChange={(segment) => go({ segment })}>
          {segments.map((s) => (
            <option value={slug(RfmSegment, s)}>{segmentLabel(s)}</option>
          ))}
        </Select>
        <div class="field">
          <label for="order">Sort by</label>
          <select id="order" value={p.order} onChange={(e) => go({ order: e.currentTarget.value })}>
            {orders.map((o) => (
              <option value={o.value}>{o.label}</option>
            ))}
          </select>
        </div>
      </form>

      {page.state === "error" && (
        <p class="error" role="alert">
          {page.error}
        </p>
      )}
      {page.state === "loading" && <p class="muted">Loading…</p>}
      {page.state === "done" && (
        <>
          <Table customers={page.value.customers} order={p.order} onOrder={(order) => go({ order })} />
          {page.value.customers.length === 0 && <p class="muted">No customer matches.</p>}
          {page.value.searched && (
            <p class="muted small">
              Matched exactly on CRM id, e-mail or full name. Type a filter such as <code>city = "Kraków"</code> for
              other fields.
            </p>
          )}
          {!page.value.searched && (
            <nav class="pager" aria-label="Pages">
              <button
                disabled={cur.before.length === 0}
                onClick={() => setPaging({ key, before: cur.before.slice(0, -1), token: cur.before[cur.before.length - 1] })}
              >
                ← Previous
              </button>
              <span class="muted">Page {cur.before.length + 1}</span>
              <button
                disabled={!page.value.next}
                onClick={() => setPaging({ key, before: [...cur.before, cur.token], token: page.value.next })}
              >
                Next →
              </button>
            </nav>
          )}
        </>
      )}
    </section>
  );
}

function Select(props: {
  id: string;
  label: string;
  value: string;
  onChange: (v: string) => void;
  children: preact.ComponentChildren;
}) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select id={props.id} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
        <option value="">All</option>
        {props.children}
      </select>
    </div>
  );
}

/** A column sortable from its header: its order_by field, highest first. */
function SortHeader(props: { field: string; label: string; order: string; onOrder: (o: string) => void }) {
  const desc = `${props.field} desc`;
  const active = props.order === desc || props.order === props.field;
  return (
    <th class="num" aria-sort={active ? (props.order === desc ? "descending" : "ascending") : undefined}>
      <button class="sort" onClick={() => props.onOrder(props.order === desc ? props.field : desc)}>
        {props.label}
        {active ? (props.order === desc ? " ↓" : " ↑") : ""}
      </button>
    </th>
  );
}

function Table(props: { customers: Customer[]; order: string; onOrder: (o: string) => void }) {
  if (props.customers.length === 0) return null;
  return (
    <table class="list">
      <thead>
        <tr>
          <th>Name</th>
          <th>CRM id</th>
          <th>Country</th>
          <th>Grade</th>
          <th>RFM segment</th>
          <th>Lifecycle</th>
          <th>Churn risk</th>
          <th class="num">P(active)</th>
          <SortHeader field="predicted_value" label="Predicted value" order={props.order} onOrder={props.onOrder} />
          <SortHeader field="value_at_risk" label="Value at risk" order={props.order} onOrder={props.onOrder} />
          <SortHeader field="total_spend" label="Total spend" order={props.order} onOrder={props.onOrder} />
          <th>Last purchase</th>
        </tr>
      </thead>
      <tbody>
        {props.customers.map((c) => {
          const a = c.assessment;
          return (
            <tr data-customer-id={c.id} key={c.id}>
              <td>
                <a href={href(["customers", c.id])}>{c.displayName || c.externalId}</a>
              </td>
              <td class="mono">{c.externalId}</td>
              <td>{c.country}</td>
              <td data-field="grade">{c.grade ? <span class="grade-label">{c.grade}</span> : <span class="muted">–</span>}</td>
              <td>
                {segmentLabel(a?.rfmSegment)} {a?.rfmCell && <span class="muted mono">{a.rfmCell}</span>}
              </td>
              <td>{stageLabel(a?.lifecycleStage)}</td>
              <td>
                <ChurnBadge level={a?.churnLevel} />
              </td>
              <td class="num">{a ? percent(a.pAlive) : "–"}</td>
              <td class="num">{money(a?.predictedValue)}</td>
              <td class="num">{money(a?.valueAtRisk)}</td>
              <td class="num">{money(c.purchases?.totalSpend)}</td>
              <td>{date(c.purchases?.lastPurchaseTime)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export function ChurnBadge({ level }: { level: ChurnLevel | undefined }) {
  const name = level ? ChurnLevel[level].toLowerCase() : "unspecified";
  return <span class={`badge churn-${name}`}>{churnLabel(level)}</span>;
}

