// Segments: every segment of the tenant (the built-in RFM and lifecycle
// ones and the tenant's own) with its member count; a segment's page with
// its rule and members; and the editor of a dynamic segment, whose CEL rule
// is previewed against every customer as you type (PreviewSegment, which
// saves nothing): how many customers it selects and the first of them, or
// where the rule is wrong. A static segment's page adds and removes members
// by customer id or CRM id; a segment of the tenant's own can be deleted,
// after a confirmation.
import { useEffect, useState } from "preact/hooks";
import { api, message, SegmentEventKind, SegmentKind, type Customer, type PreviewSegmentResponse, type Segment } from "./api";
import { ConnectError } from "@connectrpc/connect";
import { count, date } from "./format";
import { useLoad } from "./load";
import { href } from "./route";

/** MEMBER_PAGES bounds the member pages a count reads (of 1,000 each). */
const MEMBER_PAGES = 20;

/**
 * memberCount counts a segment's members by paging through them (the API
 * has no count): exact up to MEMBER_PAGES thousand, else a lower bound.
 */
export async function memberCount(segmentId: string): Promise<{ n: number; more: boolean }> {
  let n = 0;
  let pageToken = "";
  for (let i = 0; i < MEMBER_PAGES; i++) {
    const page = await api().segments.listSegmentMembers({ segmentId, pageSize: 1000, pageToken });
    n += page.members.length;
    pageToken = page.nextPageToken;
    if (!pageToken) return { n, more: false };
  }
  return { n, more: true };
}

function MemberCount({ id }: { id: string }) {
  const c = useLoad(() => memberCount(id), [id]);
  if (c.state === "loading") return <span class="muted">…</span>;
  if (c.state === "error") return <span class="error">{c.error}</span>;
  return <span data-field="members">{count(c.value.n) + (c.value.more ? "+" : "")}</span>;
}

const kindLabel = (s: Segment) => (s.builtIn ? "Built-in" : s.kind === SegmentKind.STATIC ? "Static" : "Dynamic");

export function SegmentsPage() {
  const list = useLoad(() => api().segments.listSegments({}), []);
  if (list.state === "loading") return <p class="muted">Loading…</p>;
  if (list.state === "error")
    return (
      <p class="error" role="alert">
        {list.error}
      </p>
    );
  // The tenant's own first, then the built-in ones; each by name.
  const segs = [...list.value.segments].sort((a, b) => Number(a.builtIn) - Number(b.builtIn) || a.name.localeCompare(b.name));
  return (
    <section class="segments">
      <h1>Segments</h1>
      <p class="muted">
        A dynamic segment holds the customers for which its rule holds, kept current as events arrive and assessments
        change; a static segment holds the customers added to it.
      </p>
      <p>
        <a class="button" href="#/segments/new" id="new-segment">
          New segment
        </a>
      </p>
      <table class="list" id="segments">
        <thead>
          <tr>
            <th>Segment</th>
            <th>Kind</th>
            <th>Rule</th>
            <th class="num">Members</th>
            <th>Changed</th>
          </tr>
        </thead>
        <tbody>
          {segs.map((s) => (
            <tr data-segment-id={s.id}>
              <td>
                <a href={href(["segments", s.id])}>{s.name}</a>
                {s.description && <div class="muted small">{s.description}</div>}
              </td>
              <td>{kindLabel(s)}</td>
              <td class="mono small wrap">{s.rule || "–"}</td>
              <td class="num">
                <MemberCount id={s.id} />
              </td>
              <td>{date(s.updateTime)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** SegmentPage is one segment (id "new": a new one): its editor and members. */
export function SegmentPage({ id }: { id: string }) {
  // saved is the segment as the last save returned it.
  const [saved, setSaved] = useState<Segment | null>(null);
  // rev counts member changes made here, so the member list reloads.
  const [rev, setRev] = useState(0);
  const seg = useLoad(() => (id === "new" ? Promise.resolve(null) : api().segments.getSegment({ id })), [id]);
  if (seg.state === "loading") return <p class="muted">Loading…</p>;
  if (seg.state === "error")
    return (
      <p class="error" role="alert">
        {seg.error}
      </p>
    );
  const s = saved ?? seg.value;
  if (s) document.title = `${s.name} · Potential`;
  return (
    <section class="segment">
      <p>
        <a href="#/segments">← Segments</a>
      </p>
      <h1>{s ? s.name : "New segment"}</h1>
      {s && (
        <p class="muted">
          {kindLabel(s)} · created {date(s.createTime)} · changed {date(s.updateTime)}
          {s.description && <> · {s.description}</>}
        </p>
      )}
      <SegmentEditor
        key={s ? s.id : "new"}
        segment={s}
        onSaved={(next) => {
          if (!s) location.hash = href(["segments", next.id]);
          else setSaved(next);
        }}
      />
      {s && s.kind === SegmentKind.STATIC && !s.builtIn && <AddMember id={s.id} onChanged={() => setRev(rev + 1)} />}
      {s && (
        <Members key={`${s.id}/${s.etag}/${rev}`} id={s.id}
          onRemove={s.kind === SegmentKind.STATIC && !s.builtIn ? () => setRev(rev + 1) : undefined} />
      )}
      {s && !s.builtIn && <DeleteSegment segment={s} />}
    </section>
  );
}

/** RuleError is where a rule is wrong: CompileError's line and column (1-based). */
interface RuleError {
  line: number;
  column: number;
  text: string;
}

/** ruleError finds the line and column in an InvalidArgument on the rule. */
export function ruleError(err: unknown): RuleError | string {
  const m = /\brule: line (\d+), column (\d+): (.*)$/s.exec(ConnectError.from(err).rawMessage);
  if (!m) return message(err);
  return { line: Number(m[1]), column: Number(m[2]), text: m[3] };
}

type Preview = { rule: string; value?: PreviewSegmentResponse; error?: RuleError | string };

function SegmentEditor(props: { segment: Segment | null; onSaved: (s: Segment) => void }) {
  const s = props.segment;
  const [name, setName] = useState(s?.name ?? "");
  const [description, setDescription] = useState(s?.description ?? "");
  const [kind, setKind] = useState(s?.kind ?? SegmentKind.DYNAMIC);
  const [rule, setRule] = useState(s?.rule ?? "");
  const [preview, setPreview] = useState<Preview | null>(null);
  const [saving, setSaving] = useState<{ busy: boolean; error?: string; done?: boolean }>({ busy: false });
  const readOnly = s?.builtIn ?? false;
  const dynamic = kind === SegmentKind.DYNAMIC;
  // The server trims the rule; positions in its errors are in the trimmed text.
  const sent = rule.trim();

  useEffect(() => {
    if (!dynamic || sent === "") {
      setPreview(null);
      return;
    }
    let live = true;
    const timer = setTimeout(() => {
      api()
        .segments.previewSegment({ rule: sent, sampleSize: 10 })
        .then(
          (value) => live && setPreview({ rule: sent, value }),
          (err) => live && setPreview({ rule: sent, error: ruleError(err) }),
        );
    }, 300);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [sent, dynamic]);

  async function save() {
    setSaving({ busy: true });
    try {
      const c = api().segments;
      const segment = { id: s?.id ?? "", etag: s?.etag ?? "", name: name.trim(), description: description.trim(), kind, rule: dynamic ? sent : "" };
      const saved = s
        ? await c.updateSegment({ segment, updateMask: { paths: ["name", "description", "rule"] } })
        : await c.createSegment({ segment });
      setSaving({ busy: false, done: true });
      props.onSaved(saved);
    } catch (err) {
      const e = ruleError(err);
      setSaving({ busy: false, error: typeof e === "string" ? e : `Rule, line ${e.line}, column ${e.column}: ${e.text}` });
    }
  }

  const current = preview?.rule === sent ? preview : null;
  const edited = !s || name !== s.name || description !== s.description || sent !== s.rule.trim();
  return (
    <div class="grid2 editor" id="segment-editor">
      <form class="policy" onSubmit={(e) => e.preventDefault()}>
        <h2>{readOnly ? "Rule (built-in, cannot change)" : s ? "Edit" : "New segment"}</h2>
        <div class="row">
          <div class="field">
            <label for="segment-name">Name</label>
            <input id="segment-name" value={name} disabled={readOnly} onInput={(e) => (setName(e.currentTarget.value), setSaving({ busy: false }))} />
          </div>
          <div class="field">
            <label for="segment-kind">Kind</label>
            <select id="segment-kind" value={String(kind)} disabled={s !== null}
              onChange={(e) => setKind(Number(e.currentTarget.value) as SegmentKind)}>
              <option value={String(SegmentKind.DYNAMIC)}>Dynamic: customers matching a rule</option>
              <option value={String(SegmentKind.STATIC)}>Static: customers added one by one</option>
            </select>
          </div>
        </div>
        <div class="field">
          <label for="segment-description">Description</label>
          <input id="segment-description" value={description} disabled={readOnly}
            onInput={(e) => (setDescription(e.currentTarget.value), setSaving({ busy: false }))} />
        </div>
        {dynamic && (
          <div class="field">
            <label for="segment-rule">Rule (CEL)</label>
            <textarea id="segment-rule" class="mono" rows={5} spellcheck={false} value={rule} readOnly={readOnly}
              placeholder='customer.country == "PL" && rfm.recency_score <= 2 && clv.predicted > 500.0'
              onInput={(e) => (setRule(e.currentTarget.value), setSaving({ busy: false }))} />
            <span class="small">
              Over customer, attributes, rfm, clv, p_alive, churn, stage, grade, score, engagement, interactions,
              days_since_last_purchase and open_complaints.
            </span>
          </div>
        )}
        {!readOnly && (
          <div class="actions">
            <button type="button" id="save-segment"
              disabled={saving.busy || !edited || name.trim() === "" || (dynamic && !current?.value)} onClick={save}>
              {s ? "Save and re-evaluate" : "Create segment"}
            </button>
          </div>
        )}
        {saving.error && (
          <p class="error" role="alert">
            {saving.error}
          </p>
        )}
        {saving.done && (
          <p class="ok" role="status">
            Saved.
          </p>
        )}
      </form>
      {dynamic && <PreviewPane rule={sent} preview={current} />}
    </div>
  );
}

function PreviewPane(props: { rule: string; preview: Preview | null }) {
  if (props.rule === "") return <div class="muted">Write a rule to see whom it selects.</div>;
  if (!props.preview) return <div class="muted">Evaluating the rule over every customer…</div>;
  const err = props.preview.error;
  if (err !== undefined) {
    if (typeof err === "string")
      return (
        <div id="segment-preview">
          <p class="error" role="alert" id="segment-rule-error">
            {err}
          </p>
        </div>
      );
    const line = props.rule.split("\n")[err.line - 1] ?? "";
    return (
      <div id="segment-preview">
        <p class="error" role="alert" id="segment-rule-error" data-line={err.line} data-column={err.column}>
          Line {err.line}, column {err.column}: {err.text}
        </p>
        <pre class="caret">
          {line}
          {"\n"}
          {" ".repeat(Math.max(0, err.column - 1))}^
        </pre>
      </div>
    );
  }
  const p = props.preview.value!;
  return (
    <div id="segment-preview">
      <p>
        <strong id="segment-preview-count" class="big-number">
          {count(p.count)}
        </strong>{" "}
        customers match now.
      </p>
      {p.sample.length > 0 && <Sample customers={p.sample} />}
    </div>
  );
}

function Sample(props: { customers: Customer[] }) {
  return (
    <table class="small-table" id="segment-sample">
      <caption class="muted small">The first {props.customers.length} by id</caption>
      <thead>
        <tr>
          <th>Customer</th>
          <th>CRM id</th>
          <th>Country</th>
        </tr>
      </thead>
      <tbody>
        {props.customers.map((c) => (
          <tr data-customer-id={c.id}>
            <td>
              <a href={href(["customers", c.id])}>{c.displayName || c.externalId}</a>
            </td>
            <td class="mono">{c.externalId}</td>
            <td>{c.country || "–"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** customerRef reads what the user typed: a customer id (a UUID) or a CRM id. */
export function customerRef(text: string) {
  const t = text.trim();
  return UUID.test(t) ? { ref: { case: "id" as const, value: t } } : { ref: { case: "externalId" as const, value: t } };
}

/** AddMember adds a customer, by its id or CRM id, to a static segment. */
function AddMember(props: { id: string; onChanged: () => void }) {
  const [who, setWho] = useState("");
  const [state, setState] = useState<{ busy: boolean; error?: string; done?: string }>({ busy: false });
  async function add() {
    setState({ busy: true });
    try {
      const res = await api().segments.addSegmentMembers({ segmentId: props.id, customers: [customerRef(who)] });
      setState({ busy: false, done: res.changed > 0 ? `Added ${who.trim()}.` : `${who.trim()} is a member already.` });
      setWho("");
      props.onChanged();
    } catch (err) {
      setState({ busy: false, error: message(err) });
    }
  }
  return (
    <form class="filters" id="add-member" onSubmit={(e) => (e.preventDefault(), who.trim() && add())}>
      <div class="field grow">
        <label for="member-ref">Add a customer</label>
        <input id="member-ref" value={who} placeholder="Customer id or CRM id" onInput={(e) => setWho(e.currentTarget.value)} />
      </div>
      <button type="submit" id="add-member-button" disabled={state.busy || who.trim() === ""}>
        Add
      </button>
      {state.error && (
        <p class="error" role="alert">
          {state.error}
        </p>
      )}
      {state.done && (
        <p class="ok" role="status" id="member-status">
          {state.done}
        </p>
      )}
    </form>
  );
}

/** DeleteSegment deletes a segment (at the version shown) after a confirmation. */
function DeleteSegment({ segment }: { segment: Segment }) {
  const [confirming, setConfirming] = useState(false);
  const [state, setState] = useState<{ busy: boolean; error?: string }>({ busy: false });
  async function remove() {
    setState({ busy: true });
    try {
      await api().segments.deleteSegment({ id: segment.id, etag: segment.etag });
      location.hash = "#/segments";
    } catch (err) {
      setState({ busy: false, error: message(err) });
    }
  }
  return (
    <div class="danger" id="delete-segment">
      {!confirming && (
        <button type="button" class="secondary" id="delete-segment-button" onClick={() => setConfirming(true)}>
          Delete segment…
        </button>
      )}
      {confirming && (
        <p role="alertdialog" aria-label="Confirm deletion">
          Delete <strong>{segment.name}</strong>? Its members leave it (each with an exit event); this cannot be undone.{" "}
          <button type="button" id="confirm-delete" disabled={state.busy} onClick={remove}>
            Delete
          </button>{" "}
          <button type="button" class="secondary" id="cancel-delete" disabled={state.busy} onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </p>
      )}
      {state.error && (
        <p class="error" role="alert">
          {state.error}
        </p>
      )}
    </div>
  );
}

const MEMBERS_PAGE = 25;

/**
 * Members pages through a segment's members (in customer id order); with
 * onRemove (a static segment) each has a button that removes it.
 */
function Members({ id, onRemove }: { id: string; onRemove?: () => void }) {
  const [removing, setRemoving] = useState<{ id?: string; error?: string }>({});
  async function remove(customerId: string) {
    setRemoving({ id: customerId });
    try {
      await api().segments.removeSegmentMembers({ segmentId: id, customers: [{ ref: { case: "id", value: customerId } }] });
      setRemoving({});
      onRemove?.();
    } catch (err) {
      setRemoving({ error: message(err) });
    }
  }
  // tokens[i] is the token of page i; the first page has none.
  const [tokens, setTokens] = useState<string[]>([""]);
  const pageNo = tokens.length - 1;
  const page = useLoad(async () => {
    const res = await api().segments.listSegmentMembers({ segmentId: id, pageSize: MEMBERS_PAGE, pageToken: tokens[pageNo] });
    const people = await Promise.all(
      res.members.map((m) =>
        api()
          .customers.getCustomer({ ref: { case: "id", value: m.customerId } })
          .catch(() => null),
      ),
    );
    return { res, people };
  }, [id, tokens.join(",")]);
  return (
    <article class="card members" id="segment-members">
      <h2>
        Members <span class="muted small">(<MemberCount id={id} />)</span>
      </h2>
      {page.state === "loading" && <p class="muted">Loading…</p>}
      {page.state === "error" && <p class="error">{page.error}</p>}
      {removing.error && (
        <p class="error" role="alert">
          {removing.error}
        </p>
      )}
      {page.state === "done" && page.value.res.members.length === 0 && <p class="muted">No members.</p>}
      {page.state === "done" && page.value.res.members.length > 0 && (
        <table class="small-table">
          <thead>
            <tr>
              <th>Customer</th>
              <th>CRM id</th>
              <th>Member since</th>
              {onRemove && <th></th>}
            </tr>
          </thead>
          <tbody>
            {page.value.res.members.map((m, i) => {
              const c = page.value.people[i];
              return (
                <tr data-customer-id={m.customerId}>
                  <td>
                    <a href={href(["customers", m.customerId])}>{c ? c.displayName || c.externalId : m.customerId}</a>
                  </td>
                  <td class="mono">{c?.externalId ?? "–"}</td>
                  <td>{date(m.since)}</td>
                  {onRemove && (
                    <td>
                      <button type="button" class="secondary small remove-member" disabled={removing.id !== undefined}
                        onClick={() => remove(m.customerId)}>
                        Remove
                      </button>
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <div class="pager">
        <button class="secondary" disabled={pageNo === 0} onClick={() => setTokens(tokens.slice(0, -1))}>
          ← Previous
        </button>
        <span class="muted">Page {pageNo + 1}</span>
        <button class="secondary" disabled={page.state !== "done" || !page.value.res.nextPageToken}
          onClick={() => page.state === "done" && setTokens([...tokens, page.value.res.nextPageToken])}>
          Next →
        </button>
      </div>
    </article>
  );
}

const causeLabels: Record<string, string> = {
  events_recorded: "New events",
  customer_changed: "Customer changed",
  assessment_changed: "Assessment changed",
  grade_changed: "Grade changed",
  time: "Time passed",
  segment_changed: "Segment changed",
  static: "Added or removed",
};

/** HISTORY_PAGES bounds the event pages (of 1,000) a customer's history reads. */
const HISTORY_PAGES = 10;

async function loadCustomerSegments(id: string) {
  const c = api().segments;
  const customer = { ref: { case: "id" as const, value: id } };
  const [all, now] = await Promise.all([c.listSegments({}), c.listCustomerSegments({ customer })]);
  const events = [];
  let after = 0n;
  let complete = false;
  for (let i = 0; i < HISTORY_PAGES; i++) {
    const page = await c.listSegmentEvents({ customer, afterCursor: after, pageSize: 1000 });
    events.push(...page.events);
    if (page.events.length < 1000) {
      complete = true;
      break;
    }
    after = page.nextCursor;
  }
  return { segments: new Map(all.segments.map((s) => [s.id, s])), now: now.segmentIds, events: events.reverse(), complete };
}

/** CustomerSegments is a customer's segments now and its entries and exits, newest first. */
export function CustomerSegments({ id }: { id: string }) {
  const l = useLoad(() => loadCustomerSegments(id), [id]);
  return (
    <article class="card wide" id="customer-segments">
      <h2>Segments</h2>
      {l.state === "loading" && <p class="muted">Loading…</p>}
      {l.state === "error" && <p class="error">{l.error}</p>}
      {l.state === "done" && (
        <>
          <p class="chips" id="segments-now">
            {l.value.now.length === 0 && <span class="muted">In no segment.</span>}
            {l.value.now.map((sid) => (
              <a class="badge" href={href(["segments", sid])} data-segment-id={sid}>
                {l.value.segments.get(sid)?.name ?? sid}
              </a>
            ))}
          </p>
          {l.value.events.length > 0 && (
            <table class="small-table" id="segment-history">
              <thead>
                <tr>
                  <th>When</th>
                  <th>Segment</th>
                  <th>Change</th>
                  <th>Cause</th>
                </tr>
              </thead>
              <tbody>
                {l.value.events.slice(0, 50).map((e) => (
                  <tr data-cursor={String(e.cursor)}>
                    <td>{date(e.time)}</td>
                    <td>
                      <a href={href(["segments", e.segmentId])}>{l.value.segments.get(e.segmentId)?.name ?? "(deleted)"}</a>
                    </td>
                    <td>{e.kind === SegmentEventKind.ENTERED ? "Entered" : "Exited"}</td>
                    <td>{causeLabels[e.cause] ?? e.cause}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {l.value.events.length > 50 && <p class="muted small">The 50 latest of {count(l.value.events.length)}{l.value.complete ? "" : "+"} changes.</p>}
        </>
      )}
    </article>
  );
}
