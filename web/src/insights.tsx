// Insights: the tenant's distributions — R×F heatmap and RFM segments
// (GetRfmDistribution), churn-risk counts (GetChurnSummary), the lifecycle
// funnel (GetLifecycleSummary), CLV deciles (from ListCustomers ordered by
// predicted value), the value model behind them (GetValueModel), and the
// weekly NPS and complaints (FeedbackService.GetFeedbackSummary).
import { Code, ConnectError } from "@connectrpc/connect";
import { api, ChurnLevel, feedback, LifecycleStage, type Customer } from "./api";
import { BarChart, Heatmap, palette } from "./charts";
import {
  churnLabel,
  churnLevels,
  count,
  date,
  fixed,
  money,
  percent,
  reasonLabel,
  segmentLabel,
  stageLabel,
  stages,
} from "./format";
import { useLoad } from "./load";

/** CLV deciles are computed here from at most this many customers. */
const DECILE_LIMIT = 20_000;

async function load() {
  const s = api().scoring;
  const [rfm, churn, lifecycle, grades, model] = await Promise.all([
    s.getRfmDistribution({}),
    s.getChurnSummary({}),
    s.getLifecycleSummary({}),
    s.getGradeDistribution({}),
    s.getValueModel({}).catch((err) => {
      if (ConnectError.from(err).code === Code.NotFound) return null; // never fitted
      throw err;
    }),
  ]);
  return { rfm, churn, lifecycle, grades, model };
}

/** loadDeciles pages through every customer by predicted value, highest first. */
async function loadDeciles(): Promise<{ values: number[]; customers: number; truncated: boolean }> {
  const all: Customer[] = [];
  let token = "";
  do {
    const res = await api().customers.listCustomers({ orderBy: "predicted_value desc", pageSize: 1000, pageToken: token });
    all.push(...res.customers);
    token = res.nextPageToken;
  } while (token && all.length < DECILE_LIMIT);
  const values = all.map((c) => Number(c.assessment?.predictedValue || 0));
  return { values, customers: all.length, truncated: token !== "" };
}

/** deciles sums values (sorted highest first) in ten groups of (nearly) equal size. */
export function deciles(values: number[]): number[] {
  const sums = new Array<number>(10).fill(0);
  const n = values.length;
  for (let d = 0; d < 10; d++) {
    for (let i = Math.floor((d * n) / 10); i < Math.floor(((d + 1) * n) / 10); i++) sums[d] += values[i];
  }
  return sums;
}

export function InsightsPage() {
  const loaded = useLoad(load, []);
  const dec = useLoad(loadDeciles, []);
  if (loaded.state === "loading") return <p class="muted">Loading…</p>;
  if (loaded.state === "error")
    return (
      <p class="error" role="alert">
        {loaded.error}
      </p>
    );
  const { rfm, churn, lifecycle, grades, model } = loaded.value;
  const grid = new Map(rfm.grid.map((c) => [`${c.recencyScore}${c.frequencyScore}`, Number(c.customers)]));
  const scores = [1, 2, 3, 4, 5];
  const levels = churnLevels.map((l) => churn.levels.find((x) => x.level === l));
  const stageCount = (s: LifecycleStage) => Number(lifecycle.stages.find((x) => x.stage === s)?.customers ?? 0);
  const churnColors: Record<number, string> = {
    [ChurnLevel.NONE]: palette[2],
    [ChurnLevel.LOW]: "#e0b43a",
    [ChurnLevel.MEDIUM]: palette[1],
    [ChurnLevel.HIGH]: palette[3],
  };

  return (
    <section class="insights">
      <h1>Insights</h1>
      <p class="muted">
        {count(rfm.customers)} customers assessed
        {model && (
          <>
            {" "}
            · value model version {String(model.version)}, fitted {date(model.fitTime)}
          </>
        )}
        {!model && <> · no value model fitted yet: values and churn risk are empty until the first fit</>}
      </p>
      <div class="grid2">
        <Heatmap
          id="rfm-heatmap"
          title="Recency × frequency: customers per score"
          rowTitle="Frequency"
          columnTitle="Recency"
          rows={[...scores].reverse().map((f) => ({ key: f, label: String(f) }))}
          columns={scores.map((r) => ({ key: r, label: String(r) }))}
          cell={(f, r) => grid.get(`${r}${f}`) ?? 0}
        />
        <BarChart
          id="grade-histogram"
          title={`Customers per grade (policy ${grades.policyVersion === 0n ? "default" : "v" + String(grades.policyVersion)})`}
          labels={grades.grades.map((g) => g.grade)}
          series={[{ label: "Customers", values: grades.grades.map((g) => Number(g.customers)) }]}
        />
        <BarChart
          id="rfm-segments"
          title="Customers per RFM segment"
          labels={rfm.segments.map((s) => segmentLabel(s.segment))}
          series={[{ label: "Customers", values: rfm.segments.map((s) => Number(s.customers)) }]}
          horizontal
          height={300}
        />
        <div>
          <BarChart
            id="churn-levels"
            title="Churn risk: customers per level"
            labels={churnLevels.map(churnLabel)}
            series={[{ label: "Customers", values: levels.map((l) => Number(l?.customers ?? 0)) }]}
            colors={churnLevels.map((l) => churnColors[l])}
          />
          <table class="small-table" id="churn-table">
            <thead>
              <tr>
                <th>Level</th>
                <th class="num">Customers</th>
                <th class="num">Predicted value</th>
                <th class="num">Value at risk</th>
              </tr>
            </thead>
            <tbody>
              {levels.map((l, i) => (
                <tr data-level={ChurnLevel[churnLevels[i]].toLowerCase()}>
                  <th>{churnLabel(churnLevels[i])}</th>
                  <td class="num">{count(l?.customers ?? 0n)}</td>
                  <td class="num">{money(l?.predictedValue || "0")}</td>
                  <td class="num">{money(l?.valueAtRisk || "0")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <BarChart
          id="churn-reasons"
          title="Churn warnings: customers per reason"
          labels={churn.reasons.map((r) => reasonLabel(r.reason))}
          series={[{ label: "Customers", values: churn.reasons.map((r) => Number(r.customers)) }]}
          horizontal
        />
        <div>
          <BarChart
            id="lifecycle-funnel"
            title="Lifecycle: customers per stage"
            labels={stages.map(stageLabel)}
            series={[{ label: "Customers", values: stages.map(stageCount) }]}
            horizontal
          />
          {lifecycle.transitions.length > 0 && (
            <details>
              <summary>Transitions between stages</summary>
              <table class="small-table">
                <thead>
                  <tr>
                    <th>From</th>
                    <th>To</th>
                    <th class="num">Times</th>
                  </tr>
                </thead>
                <tbody>
                  {lifecycle.transitions.map((t) => (
                    <tr>
                      <td>{t.from ? stageLabel(t.from) : "(first assessment)"}</td>
                      <td>{stageLabel(t.to)}</td>
                      <td class="num">{count(t.count)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </details>
          )}
        </div>
        <div>
          {dec.state === "loading" && <p class="muted">Computing CLV deciles…</p>}
          {dec.state === "error" && <p class="error">{dec.error}</p>}
          {dec.state === "done" && <Deciles {...dec.value} />}
        </div>
        <NpsTrend />
      </div>
      {model && <Model model={model} />}
    </section>
  );
}

function Deciles(props: { values: number[]; customers: number; truncated: boolean }) {
  const sums = deciles(props.values);
  const total = sums.reduce((a, b) => a + b, 0);
  return (
    <>
      <BarChart
        id="clv-deciles"
        title="Predicted value per decile of customers (highest first)"
        labels={sums.map((_, i) => `D${i + 1}`)}
        series={[{ label: "Predicted value", values: sums.map((s) => Math.round(s * 100) / 100) }]}
        format={(v) => v.toLocaleString("en-US", { maximumFractionDigits: 0 })}
      />
      <p class="muted small">
        {total > 0 && <>The top tenth holds {percent(sums[0] / total)} of the predicted value. </>}
        {props.truncated
          ? `Computed from the top ${count(props.customers)} customers only.`
          : `${count(props.customers)} customers.`}
      </p>
    </>
  );
}

function Model({ model }: { model: NonNullable<Awaited<ReturnType<typeof load>>["model"]> }) {
  return (
    <details class="card model">
      <summary>Value model version {String(model.version)}</summary>
      <dl class="inline">
        <dt>Customers in the fit</dt>
        <dd>{count(model.customers)}</dd>
        <dt>Repeat customers</dt>
        <dd>{count(model.repeatCustomers)}</dd>
        <dt>Observation end</dt>
        <dd>{date(model.observationEnd)}</dd>
        {model.bgNbd && (
          <>
            <dt>BG/NBD r, α, a, b</dt>
            <dd class="mono">
              {[model.bgNbd.r, model.bgNbd.alpha, model.bgNbd.a, model.bgNbd.b].map((x) => fixed(x, 4)).join(", ")}
            </dd>
          </>
        )}
        {model.gammaGamma && (
          <>
            <dt>Gamma-Gamma p, q, γ</dt>
            <dd class="mono">
              {[model.gammaGamma.p, model.gammaGamma.q, model.gammaGamma.gamma].map((x) => fixed(x, 4)).join(", ")}
            </dd>
          </>
        )}
      </dl>
    </details>
  );
}

/** NpsTrend charts the tenant's weekly Net Promoter Score and complaints over 12 weeks. */
export function NpsTrend() {
  const s = useLoad(() => feedback().getFeedbackSummary({}), []);
  if (s.state === "loading") return <p class="muted">Loading feedback…</p>;
  if (s.state === "error") return <p class="error">{s.error}</p>;
  const weeks = s.value.weeks;
  const nps = s.value.nps;
  return (
    <div>
      <BarChart
        id="nps-trend"
        title="Net Promoter Score per week"
        labels={weeks.map((w) => w.week)}
        series={[{ label: "NPS", values: weeks.map((w) => w.nps?.score ?? 0) }]}
        format={(v) => v.toFixed(0)}
        height={180}
      />
      <BarChart
        id="complaints-trend"
        title="Complaints opened and resolved per week"
        labels={weeks.map((w) => w.week)}
        series={[
          { label: "Opened", values: weeks.map((w) => Number(w.complaintsOpened)) },
          { label: "Resolved", values: weeks.map((w) => Number(w.complaintsResolved)) },
        ]}
        height={160}
      />
      <p class="muted small" id="nps-total">
        {nps && nps.responses > 0n
          ? `NPS ${nps.score?.toFixed(0)} over the 12 weeks, from ${nps.responses} answer${nps.responses === 1n ? "" : "s"} (${nps.promoters} promoters, ${nps.detractors} detractors).`
          : "No NPS answers in the last 12 weeks."}
      </p>
    </div>
  );
}
