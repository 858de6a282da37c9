// One customer: who it is, what it has bought, and its full assessment from
// ScoringService.GetCustomerAssessment — RFM, value, churn warning and
// lifecycle stage, each with the sentence that explains it. Every figure
// carries data-field, the assessment field it shows.
import type { ComponentChildren } from "preact";
import { api, message, type Customer, type CustomerAssessment } from "./api";
import { ChurnBadge } from "./customers";
import { count, date, fixed, money, percent, reasonLabel, segmentLabel, stageLabel } from "./format";
import { FeedbackCard } from "./feedback";
import { GradeCard, GradeHistory, PointsCard } from "./grade";
import { useLoad } from "./load";
import { CustomerSegments } from "./segments";

/** load reads the customer, and its assessment or why there is none. */
async function load(id: string): Promise<{ customer: Customer; assessment: CustomerAssessment | string }> {
  const [customer, assessment] = await Promise.all([
    api().customers.getCustomer({ ref: { case: "id", value: id } }),
    api()
      .scoring.getCustomerAssessment({ ref: { case: "customerId", value: id } })
      .catch((err: unknown) => message(err)),
  ]);
  return { customer, assessment };
}

export function CustomerPage({ id }: { id: string }) {
  const loaded = useLoad(() => load(id), [id]);
  if (loaded.state === "loading") return <p class="muted">Loading…</p>;
  if (loaded.state === "error")
    return (
      <p class="error" role="alert">
        {loaded.error}
      </p>
    );
  const { customer: c, assessment } = loaded.value;
  document.title = `${c.displayName || c.externalId} · Potential`;
  const place = [c.city, c.region, c.country].filter(Boolean).join(", ");
  return (
    <section class="customer">
      <p>
        <a href="#/customers">← Customers</a>
      </p>
      <h1>{c.displayName || c.externalId}</h1>
      <p class="muted">
        <span class="mono">{c.externalId}</span>
        {c.email && <> · {c.email}</>}
        {place && <> · {place}</>}
        {c.companyName && <> · {c.companyName}</>}
      </p>

      <div class="cards">
        {typeof assessment === "string" ? (
          <article class="card wide">
            <h2>Assessment</h2>
            <p class="error" role="alert">
              {assessment}
            </p>
          </article>
        ) : (
          <Assessment a={assessment} />
        )}

        <GradeCard id={c.id} />

        <Card title="Purchases">
          <dl>
            <Figure label="Orders" field="purchases.orders">
              {count(c.purchases?.orders ?? 0n)}
            </Figure>
            <Figure label="Purchase days" field="purchases.purchase_days">
              {count(c.purchases?.purchaseDays ?? 0n)}
            </Figure>
            <Figure label="Total spend" field="purchases.total_spend">
              {money(c.purchases?.totalSpend)}
            </Figure>
            <Figure label="Refunds" field="purchases.refund_total">
              {money(c.purchases?.refundTotal)}
            </Figure>
            <Figure label="First purchase" field="purchases.first_purchase_time">
              {date(c.purchases?.firstPurchaseTime)}
            </Figure>
            <Figure label="Last purchase" field="purchases.last_purchase_time">
              {date(c.purchases?.lastPurchaseTime)}
            </Figure>
            <Figure label="Interactions" field="engagement.interactions">
              {count(c.engagement?.interactions ?? 0n)}
            </Figure>
            <Figure label="Last interaction" field="engagement.last_interaction_time">
              {date(c.engagement?.lastInteractionTime)}
            </Figure>
          </dl>
        </Card>
        <PointsCard id={c.id} />
        <GradeHistory id={c.id} />
        <CustomerSegments id={c.id} />
        <FeedbackCard id={c.id} />
      </div>
    </section>
  );
}

/** Assessment is the four cards of an assessment: value, RFM, churn, lifecycle. */
function Assessment({ a }: { a: CustomerAssessment }) {
  return (
    <>
      <Card title="Value">
        <dl>
          <Figure label="Predicted value" field="value.predicted" big exact={a.value?.predicted}>
            {money(a.value?.predicted)}
          </Figure>
          <Figure label="Value at risk" field="value.value_at_risk" big exact={a.value?.valueAtRisk}>
            {money(a.value?.valueAtRisk)}
          </Figure>
          <Figure label="Historical value" field="value.historical" exact={a.value?.historical}>
            {money(a.value?.historical)}
          </Figure>
          <Figure label="Probability active" field="value.p_alive">
            {percent(a.value?.pAlive ?? 0)}
          </Figure>
          <Figure label="Expected purchases" field="value.expected_purchases">
            {fixed(a.value?.expectedPurchases ?? 0)}
          </Figure>
          <Figure label="Expected spend per purchase" field="value.expected_spend" exact={a.value?.expectedSpend}>
            {money(a.value?.expectedSpend)}
          </Figure>
          <Figure label="Horizon (months)" field="value.horizon_months">
            {String(a.value?.horizonMonths ?? 0)}
          </Figure>
        </dl>
        <Explanation field="value.explanation" text={a.value?.explanation} />
      </Card>

      <Card title="RFM">
        <dl>
          <Figure label="Segment" field="rfm.segment" big>
            {segmentLabel(a.rfm?.segment)}
          </Figure>
          <Figure label="Cell" field="rfm.cell" big>
            {a.rfm?.cell || "–"}
          </Figure>
          <Figure label="Recency" field="rfm.recency_score">
            {String(a.rfm?.recencyScore ?? 0)}
          </Figure>
          <Figure label="Frequency" field="rfm.frequency_score">
            {String(a.rfm?.frequencyScore ?? 0)}
          </Figure>
          <Figure label="Monetary" field="rfm.monetary_score">
            {String(a.rfm?.monetaryScore ?? 0)}
          </Figure>
          <Figure label="Days since last purchase" field="rfm.recency_days">
            {a.rfm && a.rfm.recencyDays >= 0n ? String(a.rfm.recencyDays) : "–"}
          </Figure>
        </dl>
        <Explanation field="rfm.explanation" text={a.rfm?.explanation} />
      </Card>

      <Card title="Churn warning">
        <dl>
          <Figure label="Level" field="churn.level" big>
            <ChurnBadge level={a.churn?.level} />
          </Figure>
          <Figure label="Usual days between purchases" field="churn.cadence_days">
            {a.churn?.cadenceDays ? fixed(a.churn.cadenceDays, 1) : "–"}
          </Figure>
        </dl>
        <ul class="reasons" data-field="churn.reasons">
          {(a.churn?.reasons ?? []).map((r) => (
            <li>{reasonLabel(r)}</li>
          ))}
        </ul>
        <Explanation field="churn.explanation" text={a.churn?.explanation} />
      </Card>

      <Card title="Lifecycle">
        <dl>
          <Figure label="Stage" field="lifecycle.stage" big>
            {stageLabel(a.lifecycle?.stage)}
          </Figure>
        </dl>
        <Explanation field="lifecycle.explanation" text={a.lifecycle?.explanation} />
      </Card>
      <p class="muted small assessed">
      Assessed {date(a.assessTime)} with value model version {String(a.modelVersion)}.
      </p>
    </>
  );
}

function Card(props: { title: string; children: ComponentChildren }) {
  return (
    <article class="card">
      <h2>{props.title}</h2>
      {props.children}
    </article>
  );
}

/** Figure is one labelled figure; exact, if given, is shown on hover. */
function Figure(props: { label: string; field: string; big?: boolean; exact?: string; children: ComponentChildren }) {
  return (
    <div class={props.big ? "figure big" : "figure"}>
      <dt>{props.label}</dt>
      <dd data-field={props.field} title={props.exact}>
        {props.children}
      </dd>
    </div>
  );
}

function Explanation(props: { field: string; text: string | undefined }) {
  if (!props.text) return null;
  return (
    <p class="explanation" data-field={props.field}>
      {props.text}
    </p>
  );
}
