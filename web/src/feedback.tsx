// A customer's feedback (FeedbackService.ListFeedback): complaints with
// their status, ratings, NPS answers and the rest, newest first.
import { ComplaintStatus, FeedbackKind } from "../../gen/ts/potential/feedback/v1/feedback_pb.js";
import { feedback } from "./api";
import { date } from "./format";
import { useLoad } from "./load";

const words = (name: string | undefined) => {
  if (!name) return "–";
  const s = name.toLowerCase().replace(/_/g, " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
};

export const kindLabel = (k: FeedbackKind) => (k === FeedbackKind.NPS ? "NPS" : words(FeedbackKind[k]));
export const statusLabel = (s: ComplaintStatus) => (s ? words(ComplaintStatus[s]) : "");

export function FeedbackCard({ id }: { id: string }) {
  const f = useLoad(
    () => feedback().listFeedback({ customer: { ref: { case: "id", value: id } }, pageSize: 20 }),
    [id],
  );
  return (
    <article class="card wide" id="feedback">
      <h2>Feedback</h2>
      {f.state === "loading" && <p class="muted">Loading…</p>}
      {f.state === "error" && <p class="error">{f.error}</p>}
      {f.state === "done" && f.value.feedback.length === 0 && <p class="muted">No feedback from this customer.</p>}
      {f.state === "done" && f.value.feedback.length > 0 && (
        <table class="small-table">
          <thead>
            <tr>
              <th>When</th>
              <th>Kind</th>
              <th class="num">Score</th>
              <th>Topic</th>
              <th>Status</th>
              <th>Text</th>
            </tr>
          </thead>
          <tbody>
            {f.value.feedback.map((x) => (
              <tr data-feedback-id={x.id}>
                <td>{date(x.occurredAt)}</td>
                <td>{kindLabel(x.kind)}</td>
                <td class="num">{x.score ?? "–"}</td>
                <td>{x.topic || "–"}</td>
                <td>{statusLabel(x.status)}</td>
                <td class="small">{x.text}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {f.state === "done" && f.value.nextPageToken && <p class="muted small">The 20 latest.</p>}
    </article>
  );
}

