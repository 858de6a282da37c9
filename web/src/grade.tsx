// A customer's grade, points ledger and grade history (ScoringService:
// GetCustomerGrade, ExplainScore, ListGradeChanges). Each loads on its own,
// so one that fails (no scoring model yet, say) leaves the others shown.
import { Code, ConnectError } from "@connectrpc/connect";
import { api, GradeChangeCause } from "./api";
import { date, fixed } from "./format";
import { useLoad } from "./load";

/** orNone turns NotFound into null: "there is none yet" is not an error. */
async function orNone<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (err) {
    if (ConnectError.from(err).code === Code.NotFound) return null;
    throw err;
  }
}

export function GradeCard({ id }: { id: string }) {
  const g = useLoad(() => orNone(api().scoring.getCustomerGrade({ ref: { case: "customerId", value: id } })), [id]);
  return (
    <article class="card" id="grade">
      <h2>Grade</h2>
      {g.state === "loading" && <p class="muted">Loading…</p>}
      {g.state === "error" && <p class="error">{g.error}</p>}
      {g.state === "done" && !g.value && <p class="muted">Not graded yet.</p>}
      {g.state === "done" && g.value && (
        <>
          <dl>
            <div class="figure big">
              <dt>Grade</dt>
              <dd data-field="grade.grade">
                <span class="grade">{g.value.grade}</span>
              </dd>
            </div>
            <div class="figure big">
              <dt>Composite (0–100)</dt>
              <dd data-field="grade.composite">{fixed(g.value.composite)}</dd>
            </div>
            <div class="figure">
              <dt>Value</dt>
              <dd data-field="grade.value_score">{fixed(g.value.valueScore, 1)}</dd>
            </div>
            <div class="figure">
              <dt>Engagement</dt>
              <dd data-field="grade.engagement_score">{fixed(g.value.engagementScore, 1)}</dd>
            </div>
            <div class="figure">
              <dt>Fit</dt>
              <dd data-field="grade.fit_score">{fixed(g.value.fitScore, 1)}</dd>
            </div>
            <div class="figure">
              <dt>Policy version</dt>
              <dd data-field="grade.policy_version">{String(g.value.policyVersion)}</dd>
            </div>
          </dl>
          <p class="explanation" data-field="grade.explanation">
            {g.value.explanation}
          </p>
        </>
      )}
    </article>
  );
}

export function PointsCard({ id }: { id: string }) {
  const s = useLoad(() => orNone(api().scoring.explainScore({ ref: { case: "customerId", value: id } })), [id]);
  return (
    <article class="card wide" id="points">
      <h2>Points</h2>
      {s.state === "loading" && <p class="muted">Loading…</p>}
      {s.state === "error" && <p class="error">{s.error}</p>}
      {s.state === "done" && !s.value && <p class="muted">The tenant has no scoring model yet.</p>}
      {s.state === "done" && s.value && (
        <>
          <p>
            <span class="big-number" data-field="score.points">
              {String(s.value.score?.points ?? 0n)}
            </span>{" "}
            points in <strong>{s.value.score?.modelDisplayName}</strong>, as of {date(s.value.score?.asOf)}
            {s.value.score?.stale && <span class="muted"> (rules changed; being recomputed)</span>}
          </p>
          {s.value.entries.length === 0 ? (
            <p class="muted">No points count now.</p>
          ) : (
            <table class="small-table" id="ledger">
              <thead>
                <tr>
                  <th>Rule</th>
                  <th>Event</th>
                  <th class="num">Points</th>
                  <th>Awarded</th>
                  <th>Expires</th>
                </tr>
              </thead>
              <tbody>
                {s.value.entries.map((e) => (
                  <tr data-entry-id={e.id}>
                    <td>{e.ruleDisplayName || <span class="muted">(deleted rule)</span>}</td>
                    <td>
                      {e.eventKind} <span class="mono muted">{e.eventExternalId}</span>
                    </td>
                    <td class="num">
                      {e.points > 0n ? `+${e.points}` : String(e.points)}
                      {e.capped && <span class="muted" title="Cut by the rule's cap"> (capped)</span>}
                    </td>
                    <td>{date(e.awardTime)}</td>
                    <td>{e.expireTime ? date(e.expireTime) : "never"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </article>
  );
}

const causes: Record<GradeChangeCause, string> = {
  [GradeChangeCause.UNSPECIFIED]: "–",
  [GradeChangeCause.CUSTOMER_CREATED]: "Customer created",
  [GradeChangeCause.CUSTOMER_UPDATED]: "Customer changed",
  [GradeChangeCause.EVENTS_RECORDED]: "New events",
  [GradeChangeCause.POLICY_CHANGED]: "Grading policy changed",
  [GradeChangeCause.RULES_CHANGED]: "Scoring rules changed",
  [GradeChangeCause.REGRADE]: "Re-graded",
};

export function GradeHistory({ id }: { id: string }) {
  const h = useLoad(() => api().scoring.listGradeChanges({ ref: { case: "customerId", value: id }, pageSize: 20 }), [id]);
  return (
    <article class="card wide" id="grade-history">
      <h2>Grade history</h2>
      {h.state === "loading" && <p class="muted">Loading…</p>}
      {h.state === "error" && <p class="error">{h.error}</p>}
      {h.state === "done" && h.value.changes.length === 0 && <p class="muted">No grade yet.</p>}
      {h.state === "done" && h.value.changes.length > 0 && (
        <table class="small-table">
          <thead>
            <tr>
              <th>When</th>
              <th>Grade</th>
              <th>Cause</th>
              <th>Why</th>
            </tr>
          </thead>
          <tbody>
            {h.value.changes.map((c) => (
              <tr>
                <td>{date(c.changeTime)}</td>
                <td class="nowrap">{c.fromGrade ? `${c.fromGrade} → ${c.toGrade}` : c.toGrade}</td>
                <td>{causes[c.cause] ?? "–"}</td>
                <td class="small">{c.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {h.state === "done" && h.value.nextPageToken && <p class="muted small">The 20 latest changes.</p>}
    </article>
  );
}
