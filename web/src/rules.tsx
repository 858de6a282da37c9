// Scoring rules: every rule of every scoring model, and an editor for one
// rule (or a new one) whose draft is dry-run against every customer as you
// type (PreviewRuleChange, which saves nothing): how many scores and grades
// would change, and the matrix of current × proposed grades. Save applies
// it (conditional on the version shown) and re-scores everyone.
import { useEffect, useState } from "preact/hooks";
import { api, message, type GradePreview, type ScoringRule } from "./api";
import { useLoad } from "./load";
import { PreviewPanel } from "./preview";

const DAY = 86_400n;

/** The event kinds a rule can match, as ScoringRule.event_kind names them. */
const eventKinds = [
  "order", "refund", "call", "email_sent", "email_opened", "email_clicked", "meeting", "chat", "site_visit",
  "page_view", "form_submission", "social_engagement", "referral_given", "referral_received", "complaint",
  "complaint_resolved_justified", "complaint_resolved_unjustified", "suggestion", "praise", "question", "rating",
  "nps", "qualification_changed",
];

interface Draft {
  modelId: string;
  displayName: string;
  eventKind: string;
  condition: string;
  points: string;
  validityDays: string;
  cap: string;
}

function draftOf(r: ScoringRule | null, modelId: string): Draft {
  return {
    modelId: r?.modelId ?? modelId,
    displayName: r?.displayName ?? "",
    eventKind: r?.eventKind ?? "order",
    condition: r?.condition ?? "",
    points: r ? String(r.points) : "10",
    validityDays: r?.validity ? String(r.validity.seconds / DAY) : "",
    cap: r && r.cap > 0n ? String(r.cap) : "",
  };
}

/** The fields the editor changes (named, since "*" has no JSON form). */
const editable = { paths: ["display_name", "event_kind", "condition", "points", "validity", "cap"] };

const int = (s: string) => BigInt(Math.trunc(Number(s) || 0));

/** ruleOf turns a draft into the rule it proposes. */
function ruleOf(d: Draft, base: ScoringRule | null) {
  const days = d.validityDays.trim();
  return {
    id: base?.id ?? "",
    etag: base?.etag ?? "",
    modelId: d.modelId,
    displayName: d.displayName.trim(),
    eventKind: d.eventKind,
    condition: d.condition.trim(),
    points: int(d.points),
    validity: days === "" ? undefined : { seconds: int(days) * DAY, nanos: 0 },
    cap: int(d.cap),
  };
}

async function load() {
  const s = api().scoring;
  const [models, rules, policy] = await Promise.all([
    s.listScoringModels({}),
    s.listScoringRules({}),
    s.getGradingPolicy({}),
  ]);
  return { models: models.models, rules: rules.rules, grades: policy.grades };
}

export function RulesPage() {
  const [reload, setReload] = useState(0);
  const [editing, setEditing] = useState<{ rule: ScoringRule | null } | null>(null);
  const loaded = useLoad(load, [reload]);
  if (loaded.state === "loading") return <p class="muted">Loading…</p>;
  if (loaded.state === "error")
    return (
      <p class="error" role="alert">
        {loaded.error}
      </p>
    );
  const { models, rules, grades } = loaded.value;
  const modelName = new Map(models.map((m) => [m.id, m.displayName]));
  return (
    <section class="rules">
      <h1>Scoring rules</h1>
      <p class="muted">
        Each rule awards points for an event; points count for the rule's validity and then drop out, so a score is
        what a customer is worth now.
      </p>
      {models.length === 0 && <p class="muted">The tenant has no scoring model yet: create one through the API.</p>}
      {models.length > 0 && (
        <table class="list" id="rules">
          <thead>
            <tr>
              <th>Rule</th>
              <th>Model</th>
              <th>Event</th>
              <th>Condition</th>
              <th class="num">Points</th>
              <th class="num">Counts for</th>
              <th class="num">Cap</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rules.map((r) => (
              <tr data-rule-id={r.id}>
                <td>{r.displayName}</td>
                <td>{modelName.get(r.modelId)}</td>
                <td class="mono">{r.eventKind}</td>
                <td class="mono small">{r.condition || "–"}</td>
                <td class="num">{r.points > 0n ? `+${r.points}` : String(r.points)}</td>
                <td class="num">{r.validity ? `${r.validity.seconds / DAY} days` : "ever"}</td>
                <td class="num">{r.cap > 0n ? String(r.cap) : "–"}</td>
                <td>
                  <button class="secondary" onClick={() => setEditing({ rule: r })}>
                    Edit
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {models.length > 0 && !editing && (
        <p>
          <button onClick={() => setEditing({ rule: null })}>New rule</button>
        </p>
      )}
      {editing && (
        <RuleEditor
          key={editing.rule?.id ?? "new"}
          rule={editing.rule}
          models={models}
          grades={grades}
          onDone={() => {
            setEditing(null);
            setReload(reload + 1);
          }}
          onCancel={() => setEditing(null)}
        />
      )}
    </section>
  );
}

function RuleEditor(props: {
  rule: ScoringRule | null;
  models: { id: string; displayName: string }[];
  grades: string[];
  onDone: () => void;
  onCancel: () => void;
}) {
  const [draft, setDraft] = useState(() => draftOf(props.rule, props.models[0]?.id ?? ""));
  const [remove, setRemove] = useState(false);
  const [preview, setPreview] = useState<{ key: string; value?: GradePreview; error?: string } | null>(null);
  const [saving, setSaving] = useState<string | null>(null);
  const key = JSON.stringify([draft, remove]);
  const set = (change: Partial<Draft>) => {
    setDraft({ ...draft, ...change });
    setSaving(null);
  };

  useEffect(() => {
    let live = true;
    const rule = ruleOf(draft, props.rule);
    const change = remove
      ? { case: "deleteRuleId" as const, value: props.rule!.id }
      : props.rule
        ? { case: "update" as const, value: { rule, updateMask: editable } }
        : { case: "create" as const, value: rule };
    const timer = setTimeout(() => {
      api()
        .scoring.previewRuleChange({ change })
        .then(
          (value) => live && setPreview({ key, value }),
          (err) => live && setPreview({ key, error: message(err) }),
        );
    }, 300);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [key]);

  async function save() {
    setSaving("");
    try {
      const s = api().scoring;
      const rule = ruleOf(draft, props.rule);
      if (remove) await s.deleteScoringRule({ id: props.rule!.id, etag: props.rule!.etag });
      else if (props.rule) await s.updateScoringRule({ rule, updateMask: editable });
      else await s.createScoringRule({ rule });
      props.onDone();
    } catch (err) {
      setSaving(message(err));
    }
  }

  const current = preview?.key === key ? preview : null;
  return (
    <div class="grid2 editor" id="rule-editor">
      <form class="policy" onSubmit={(e) => e.preventDefault()}>
        <h2>{props.rule ? `Edit “${props.rule.displayName}” (version ${props.rule.version})` : "New rule"}</h2>
        <div class="row">
          <div class="field">
            <label for="rule-name">Name</label>
            <input id="rule-name" value={draft.displayName} disabled={remove}
              onInput={(e) => set({ displayName: e.currentTarget.value })} />
          </div>
          <div class="field">
            <label for="rule-model">Model</label>
            <select id="rule-model" value={draft.modelId} disabled={props.rule !== null}
              onChange={(e) => set({ modelId: e.currentTarget.value })}>
              {props.models.map((m) => (
                <option value={m.id}>{m.displayName}</option>
              ))}
            </select>
          </div>
        </div>
        <div class="row">
          <div class="field">
            <label for="rule-event">Event</label>
            <select id="rule-event" value={draft.eventKind} disabled={remove}
              onChange={(e) => set({ eventKind: e.currentTarget.value })}>
              {eventKinds.map((k) => (
                <option value={k}>{k}</option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="rule-points">Points</label>
            <input id="rule-points" type="number" step="1" value={draft.points} disabled={remove}
              onInput={(e) => set({ points: e.currentTarget.value })} />
          </div>
          <div class="field">
            <label for="rule-validity">Counts for (days; empty: ever)</label>
            <input id="rule-validity" type="number" min="1" step="1" value={draft.validityDays} disabled={remove}
              onInput={(e) => set({ validityDays: e.currentTarget.value })} />
          </div>
          <div class="field">
            <label for="rule-cap">Cap (empty: none)</label>
            <input id="rule-cap" type="number" min="0" step="1" value={draft.cap} disabled={remove}
              onInput={(e) => set({ cap: e.currentTarget.value })} />
          </div>
        </div>
        <div class="field">
          <label for="rule-condition">Condition (CEL; empty: every such event)</label>
          <input id="rule-condition" class="mono" value={draft.condition} disabled={remove}
            placeholder='event.amount > 1000.0 && customer.country == "PL"'
            onInput={(e) => set({ condition: e.currentTarget.value })} />
        </div>
        {props.rule && (
          <label class="check">
            <input type="checkbox" checked={remove} onChange={(e) => setRemove(e.currentTarget.checked)} /> Delete this
            rule (its points leave every ledger)
          </label>
        )}
        <div class="actions">
          <button type="button" id="save-rule" disabled={!current?.value || saving === ""} onClick={save}>
            {remove ? "Delete and re-score everyone" : "Save and re-score everyone"}
          </button>
          <button type="button" class="secondary" onClick={props.onCancel}>
            Cancel
          </button>
        </div>
        {saving && (
          <p class="error" role="alert">
            {saving}
          </p>
        )}
      </form>
      <PreviewPanel grades={props.grades} preview={current} scores />
    </div>
  );
}
