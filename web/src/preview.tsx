// PreviewPanel shows a dry run of a grading policy or scoring rule change
// (a GradePreview): how many customers would change grade (and score), the
// matrix of current × proposed grades, the grade histogram before and
// after, and some of the customers that would move.
import type { GradePreview } from "./api";
import { BarChart } from "./charts";
import { count, fixed } from "./format";
import { href } from "./route";

export function PreviewPanel(props: {
  /** The current policy's grades, best first: the matrix's row order. */
  grades: string[];
  /** null while the dry run runs. */
  preview: { value?: GradePreview; error?: string } | null;
  /** Show score changes (rule changes) too. */
  scores?: boolean;
}) {
  if (!props.preview) return <div class="muted">Grading every customer under the change…</div>;
  if (props.preview.error)
    return (
      <div>
        <p class="error" role="alert" id="preview-error">
          {props.preview.error}
        </p>
      </div>
    );
  const p = props.preview.value!;
  const current = props.grades;
  const proposed = p.policy?.grades.length ? p.policy.grades : current;
  const from = [...current, ...new Set(p.transitions.map((t) => t.fromGrade).filter((g) => !current.includes(g)))];
  const cell = (f: string, t: string) =>
    Number(p.transitions.find((x) => x.fromGrade === f && x.toGrade === t)?.count ?? 0n);
  const labels = [...new Set([...current, ...proposed])];
  const sum = (pick: (t: GradePreview["transitions"][number]) => string, g: string) =>
    p.transitions.filter((t) => pick(t) === g).reduce((n, t) => n + Number(t.count), 0);
  return (
    <div class="preview" id="preview">
      <p>
        <strong id="grade-changes">{count(p.gradeChanges)}</strong> of {count(p.customers)} customers would change
        grade
        {props.scores && (
          <>
            ; <strong id="score-changes">{count(p.scoreChanges)}</strong> would change score
          </>
        )}
        .
      </p>
      <table class="matrix" id="transition-matrix">
        <caption>Current grade (rows) × proposed grade (columns)</caption>
        <thead>
          <tr>
            <th />
            {proposed.map((g) => (
              <th scope="col">{g}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {from.map((f) => (
            <tr>
              <th scope="row">{f || "not graded"}</th>
              {proposed.map((t) => {
                const n = cell(f, t);
                return (
                  <td data-from={f} data-to={t} class={n === 0 ? "zero" : f === t ? "same" : "moved"}>
                    {count(n)}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      <BarChart
        id="grade-histogram"
        title="Customers per grade: now and after the change"
        labels={labels}
        series={[
          { label: "Now", values: labels.map((g) => sum((t) => t.fromGrade, g)) },
          { label: "After", values: labels.map((g) => sum((t) => t.toGrade, g)) },
        ]}
        height={200}
      />
      {p.samples.length > 0 && (
        <details>
          <summary>Customers that would move ({p.samples.length} shown)</summary>
          <table class="small-table">
            <thead>
              <tr>
                <th>Customer</th>
                <th>Grade</th>
                <th class="num">Composite</th>
                {props.scores && <th class="num">Score</th>}
              </tr>
            </thead>
            <tbody>
              {p.samples.map((s) => (
                <tr>
                  <td>
                    <a href={href(["customers", s.customerId])}>{s.displayName || s.externalId}</a>
                  </td>
                  <td>
                    {s.fromGrade || "–"} → {s.toGrade}
                  </td>
                  <td class="num">
                    {fixed(s.fromComposite)} → {fixed(s.toComposite)}
                  </td>
                  {props.scores && (
                    <td class="num">
                      {String(s.fromScore)} → {String(s.toScore)}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
    </div>
  );
}
