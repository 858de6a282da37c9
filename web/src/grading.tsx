// Grading: the tenant's grading policy, edited as a draft that is graded
// against every customer as you type (PreviewPolicyChange, a dry run that
// saves nothing): how many customers would change grade, the matrix of
// current × proposed grades, the grade histogram before and after, and
// examples. Save (UpdateGradingPolicy, conditional on the version shown)
// applies it and re-grades everyone.
import { useEffect, useState } from "preact/hooks";
import { api, message, ThresholdMode, ValueSource, type GradePreview, type GradingPolicy } from "./api";
import { useLoad } from "./load";
import { PreviewPanel } from "./preview";

/** Draft is the editable part of a policy, as typed. */
interface Draft {
  grades: string;
  valueWeight: string;
  engagementWeight: string;
  fitWeight: string;
  valueSource: ValueSource;
  valueTarget: string;
  engagementModelId: string;
  engagementTarget: string;
  thresholds: ThresholdMode;
  cutoffs: string;
}

const list = (s: string) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);

function draftOf(p: GradingPolicy): Draft {
  return {
    grades: p.grades.join(", "),
    valueWeight: String(p.valueWeight),
    engagementWeight: String(p.engagementWeight),
    fitWeight: String(p.fitWeight),
    valueSource: p.valueSource || ValueSource.PREDICTED,
    valueTarget: p.valueTarget,
    engagementModelId: p.engagementModelId,
    engagementTarget: String(p.engagementTarget),
    thresholds: p.thresholds || ThresholdMode.ABSOLUTE,
    cutoffs: p.cutoffs.join(", "),
  };
}

/** policyOf applies a draft to the policy it was made from (fit criteria and BANT kept). */
function policyOf(base: GradingPolicy, d: Draft) {
  return {
    grades: list(d.grades),
    valueWeight: Number(d.valueWeight) || 0,
    engagementWeight: Number(d.engagementWeight) || 0,
    fitWeight: Number(d.fitWeight) || 0,
    valueSource: d.valueSource,
    valueTarget: d.valueTarget.trim(),
    engagementModelId: d.engagementModelId,
    engagementTarget: BigInt(Math.max(0, Math.trunc(Number(d.engagementTarget) || 0))),
    fit: base.fit,
    bant: base.bant,
    thresholds: d.thresholds,
    cutoffs: list(d.cutoffs).map(Number),
  };
}

async function load() {
  const [policy, models] = await Promise.all([
    api().scoring.getGradingPolicy({}),
    api()
      .scoring.listScoringModels({})
      .then((r) => r.models)
      .catch(() => []),
  ]);
  return { policy, models };
}

export function GradingPage() {
  const [reload, setReload] = useState(0);
  const loaded = useLoad(load, [reload]);
  if (loaded.state === "loading") return <p class="muted">Loading…</p>;
  if (loaded.state === "error")
    return (
      <p class="error" role="alert">
        {loaded.error}
      </p>
    );
  return (
    <Editor
      key={`${loaded.value.policy.version}`}
      policy={loaded.value.policy}
      models={loaded.value.models}
      onSaved={() => setReload(reload + 1)}
    />
  );
}

function Editor(props: {
  policy: GradingPolicy;
  models: { id: string; displayName: string }[];
  onSaved: () => void;
}) {
  const [draft, setDraft] = useState(() => draftOf(props.policy));
  const [preview, setPreview] = useState<{ key: string; value?: GradePreview; error?: string } | null>(null);
  const [saving, setSaving] = useState<{ error?: string; done?: string } | null>(null);
  const key = JSON.stringify(draft);
  const set = (change: Partial<Draft>) => {
    setDraft({ ...draft, ...change });
    setSaving(null);
  };

  // Dry-run the draft a moment after the last keystroke.
  useEffect(() => {
    let live = true;
    const timer = setTimeout(() => {
      api()
        .scoring.previewPolicyChange({ policy: policyOf(props.policy, draft) })
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
    setSaving({});
    try {
      const saved = await api().scoring.updateGradingPolicy({
        policy: { ...policyOf(props.policy, draft), etag: props.policy.etag },
      });
      setSaving({ done: `Saved as version ${saved.version}; every customer has been re-graded.` });
      setTimeout(props.onSaved, 1500);
    } catch (err) {
      setSaving({ error: message(err) });
    }
  }

  const current = preview?.key === key ? preview : null;
  const unchanged = key === JSON.stringify(draftOf(props.policy));
  return (
    <section class="grading">
      <h1>Grading policy</h1>
      <p class="muted">
        {props.policy.version === 0n ? "The default policy (never changed)." : `Version ${props.policy.version}.`} Each
        customer's composite is the weighted mean of its value, engagement and fit sub-scores (0–100); the grade is the
        first whose cut the composite reaches.
      </p>
      <div class="grid2">
        <form class="policy" onSubmit={(e) => e.preventDefault()}>
          <Field id="grades" label="Grades, best first">
            <input id="grades" value={draft.grades} onInput={(e) => set({ grades: e.currentTarget.value })} />
          </Field>
          <div class="row">
            <Field id="value-weight" label="Value weight">
              <input id="value-weight" type="number" min="0" step="any" value={draft.valueWeight}
                onInput={(e) => set({ valueWeight: e.currentTarget.value })} />
            </Field>
            <Field id="engagement-weight" label="Engagement weight">
              <input id="engagement-weight" type="number" min="0" step="any" value={draft.engagementWeight}
                onInput={(e) => set({ engagementWeight: e.currentTarget.value })} />
            </Field>
            <Field id="fit-weight" label="Fit weight">
              <input id="fit-weight" type="number" min="0" step="any" value={draft.fitWeight}
                onInput={(e) => set({ fitWeight: e.currentTarget.value })} />
            </Field>
          </div>
          <div class="row">
            <Field id="value-source" label="Value">
              <select id="value-source" value={String(draft.valueSource)}
                onChange={(e) => set({ valueSource: Number(e.currentTarget.value) })}>
                <option value={String(ValueSource.PREDICTED)}>Predicted lifetime value</option>
                <option value={String(ValueSource.HISTORICAL)}>Historical value</option>
              </select>
            </Field>
            <Field id="value-target" label="Value for a full value score">
              <input id="value-target" value={draft.valueTarget} onInput={(e) => set({ valueTarget: e.currentTarget.value })} />
            </Field>
          </div>
          <div class="row">
            <Field id="engagement-model" label="Engagement: score of model">
              <select id="engagement-model" value={draft.engagementModelId}
                onChange={(e) => set({ engagementModelId: e.currentTarget.value })}>
                <option value="">(none)</option>
                {props.models.map((m) => (
                  <option value={m.id}>{m.displayName}</option>
                ))}
              </select>
            </Field>
            <Field id="engagement-target" label="Score for a full engagement score">
              <input id="engagement-target" type="number" min="0" value={draft.engagementTarget}
                onInput={(e) => set({ engagementTarget: e.currentTarget.value })} />
            </Field>
          </div>
          <div class="row">
            <Field id="thresholds" label="Cutoffs are">
              <select id="thresholds" value={String(draft.thresholds)}
                onChange={(e) => set({ thresholds: Number(e.currentTarget.value) })}>
                <option value={String(ThresholdMode.ABSOLUTE)}>Composite scores</option>
                <option value={String(ThresholdMode.PERCENTILE)}>Shares of customers from the top (%)</option>
              </select>
            </Field>
            <Field id="cutoffs" label="Cutoffs, one per grade but the last">
              <input id="cutoffs" value={draft.cutoffs} onInput={(e) => set({ cutoffs: e.currentTarget.value })} />
            </Field>
          </div>
          {(props.policy.fit.length > 0 || props.policy.bant) && (
            <p class="muted small">
              Fit: {props.policy.fit.length} criteria
              {props.policy.bant && " and BANT points for leads"} (kept as they are).
            </p>
          )}
          <div class="actions">
            <button type="button" id="save" disabled={unchanged || !current?.value || saving !== null} onClick={save}>
              Save and re-grade everyone
            </button>
            <button type="button" class="secondary" disabled={unchanged} onClick={() => set(draftOf(props.policy))}>
              Reset
            </button>
          </div>
          {saving?.error && (
            <p class="error" role="alert">
              {saving.error}
            </p>
          )}
          {saving?.done && (
            <p class="ok" role="status">
              {saving.done}
            </p>
          )}
        </form>
        <PreviewPanel grades={props.policy.grades} preview={current} />
      </div>
    </section>
  );
}

function Field(props: { id: string; label: string; children: preact.ComponentChildren }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children}
    </div>
  );
}

