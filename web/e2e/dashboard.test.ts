// The dashboard in a real browser against a real server: Debian's Chromium
// driven by playwright-core. It signs in, sorts and filters the customer
// list, finds a customer by search, opens its page and checks every figure
// shown against what the API itself returns (called here through the
// generated client), checks the insights against the summary RPCs, and
// saves screenshots of the main pages. `npm test` (e2e/run.mjs) starts the
// server with its demo tenant; POTENTIAL_URL and POTENTIAL_API_KEY name it.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { CustomerService } from "../../gen/ts/potential/customer/v1/customer_service_pb.js";
import type { Customer } from "../../gen/ts/potential/customer/v1/customer_pb.js";
import { ChurnLevel, ChurnReason, LifecycleStage, RfmSegment } from "../../gen/ts/potential/scoring/v1/assessment_pb.js";
import { TopCustomerOrder } from "../../gen/ts/potential/scoring/v1/grading_pb.js";
import { ScoringService } from "../../gen/ts/potential/scoring/v1/scoring_service_pb.js";
import { FeedbackKind } from "../../gen/ts/potential/feedback/v1/feedback_pb.js";
import { FeedbackService } from "../../gen/ts/potential/feedback/v1/feedback_service_pb.js";
import { SegmentKind, SegmentService } from "../../gen/ts/potential/segment/v1/segment_service_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";

const baseUrl = process.env.POTENTIAL_URL ?? "";
const key = process.env.POTENTIAL_API_KEY ?? "";
const shots = process.env.POTENTIAL_SCREENSHOTS ?? "";
if (!baseUrl || !key || !shots) throw new Error("set POTENTIAL_URL, POTENTIAL_API_KEY and POTENTIAL_SCREENSHOTS (npm test does)");

const auth: Interceptor = (next) => (req) => {
  req.header.set("Authorization", `Bearer ${key}`);
  return next(req);
};
const transport = createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [auth] });
const customers = createClient(CustomerService, transport);
const scoring = createClient(ScoringService, transport);
const feedback = createClient(FeedbackService, transport);
const segments = createClient(SegmentService, transport);

// How the page writes figures, restated here from the design rather than
// imported from the page's code, so a wrong format fails.
const fixed = (x: number, d = 2) => x.toFixed(d);
const money = (s: string) =>
  Number(s).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const percent = (p: number) => `${(p * 100).toFixed(1)} %`;
const segmentNames: Record<RfmSegment, string> = {
  [RfmSegment.UNSPECIFIED]: "Not scored",
  [RfmSegment.CHAMPIONS]: "Champions",
  [RfmSegment.LOYAL]: "Loyal",
  [RfmSegment.POTENTIAL_LOYALISTS]: "Potential loyalists",
  [RfmSegment.NEW]: "New",
  [RfmSegment.PROMISING]: "Promising",
  [RfmSegment.NEED_ATTENTION]: "Need attention",
  [RfmSegment.ABOUT_TO_SLEEP]: "About to sleep",
  [RfmSegment.AT_RISK]: "At risk",
  [RfmSegment.CANT_LOSE_THEM]: "Can't lose them",
  [RfmSegment.HIBERNATING]: "Hibernating",
  [RfmSegment.LOST]: "Lost",
};
const churnNames: Record<ChurnLevel, string> = {
  [ChurnLevel.UNSPECIFIED]: "Not assessed",
  [ChurnLevel.NONE]: "None",
  [ChurnLevel.LOW]: "Low",
  [ChurnLevel.MEDIUM]: "Medium",
  [ChurnLevel.HIGH]: "High",
};
const reasonNames: Record<ChurnReason, string> = {
  [ChurnReason.UNSPECIFIED]: "–",
  [ChurnReason.LOW_P_ALIVE]: "Low probability of being active",
  [ChurnReason.LONG_SILENCE]: "Silent longer than usual",
  [ChurnReason.ENGAGEMENT_DROP]: "Engagement dropped",
  [ChurnReason.OPEN_COMPLAINT]: "Open complaint",
};
const stageNames: Record<LifecycleStage, string> = {
  [LifecycleStage.UNSPECIFIED]: "Not assessed",
  [LifecycleStage.LEAD]: "Lead",
  [LifecycleStage.NEW]: "New",
  [LifecycleStage.ACTIVE]: "Active",
  [LifecycleStage.AT_RISK]: "At risk",
  [LifecycleStage.CHURNED]: "Churned",
  [LifecycleStage.REACTIVATED]: "Reactivated",
};

// Chromium as go-svc machines run it: Debian's package, headless, with
// nothing that phones home, in a fresh profile.
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let profile: string;
let context: BrowserContext;
let page: Page;
/** Everything the page logged as an error, or threw: none is allowed. */
const pageErrors: string[] = [];
/**
 * expectRejectedPreview is set while the test types a wrong segment rule on
 * purpose: PreviewSegment's 400 for it is then expected.
 */
let expectRejectedPreview = false;

before(async () => {
  profile = mkdtempSync(join(tmpdir(), "potential-e2e-"));
  mkdirSync(shots, { recursive: true });
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: chromiumArgs,
    viewport: { width: 1360, height: 900 },
    deviceScaleFactor: 1,
    locale: "en-US",
    timezoneId: "UTC",
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  page.on("pageerror", (err) => pageErrors.push(`pageerror: ${err.message}`));
  page.on("response", (res) => {
    if (expectRejectedPreview && res.status() === 400 && res.url().endsWith("/potential.segment.v1.SegmentService/PreviewSegment")) return;
    if (res.status() >= 400 && res.status() !== 401) pageErrors.push(`${res.status()} from ${res.url()}`);
  });
  page.on("console", (msg) => {
    // Failed responses are caught above (the wrong key's 401 is expected).
    if (msg.type() === "error" && !/^Failed to load resource/.test(msg.text())) pageErrors.push(`console: ${msg.text()}`);
  });
});

after(async () => {
  await context?.close();
  rmSync(profile, { recursive: true, force: true });
});

async function shot(name: string, fullPage = false) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage });
}

/** rowIds lists the customer ids of the list's rows, top to bottom. */
async function rowIds(): Promise<string[]> {
  return page.locator("table.list tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-customer-id") ?? ""));
}

/**
 * expectList waits until the list shows exactly want, in order, and fails
 * with what it shows if that does not happen within 15 s. It polls rather
 * than waiting on a page function, which a navigation (the filters change
 * the URL) can end early.
 */
async function expectList(want: Customer[]) {
  const ids = want.map((c) => c.id);
  const deadline = Date.now() + 15_000;
  const read = () => rowIds().catch(() => [] as string[]);
  let got = await read();
  while (JSON.stringify(got) !== JSON.stringify(ids) && Date.now() < deadline) {
    await page.waitForTimeout(100);
    got = await read();
  }
  assert.deepEqual(got, ids);
}

describe("dashboard", { concurrency: false }, () => {
  test("refuses a wrong key and signs in with the right one", async () => {
    await page.goto(baseUrl + "/");
    await page.locator("#api-key").waitFor();
    await shot("sign-in");

    await page.fill("#api-key", "pk_nobody_0000000000000000");
    await page.click("button[type=submit]");
    await page.getByRole("alert").waitFor();
    assert.match(await page.getByRole("alert").innerText(), /not accepted/);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);

    await page.fill("#api-key", key);
    await page.click("button[type=submit]");
    await page.locator("table.list tbody tr").first().waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem("potential.apiKey")), key);
  });

  test("lists customers by predicted value, and by value at risk from its header", async () => {
    const byValue = await customers.listCustomers({ orderBy: "predicted_value desc", pageSize: 50 });
    assert.equal(byValue.customers.length, 50, "the demo tenant has more than a page of customers");
    await expectList(byValue.customers);
    // The first row shows the API's figures for that customer.
    const top = byValue.customers[0];
    const cells = await page.locator("table.list tbody tr").first().locator("td").allInnerTexts();
    assert.equal(cells[1], top.externalId);
    assert.equal(cells[3], top.grade || "–");
    assert.equal(cells[8], money(top.assessment!.predictedValue));
    assert.equal(cells[9], money(top.assessment!.valueAtRisk));
    assert.equal(cells[6], churnNames[top.assessment!.churnLevel]);
    await shot("customers");

    await page.getByRole("button", { name: /Value at risk/ }).click();
    await page.waitForURL(/order=value_at_risk\+desc/);
    const byRisk = await customers.listCustomers({ orderBy: "value_at_risk desc", pageSize: 50 });
    await expectList(byRisk.customers);
    assert.notDeepEqual(
      byRisk.customers.map((c) => c.id),
      byValue.customers.map((c) => c.id),
    );

    // Next page follows the API's page token, and Previous comes back.
    await page.getByRole("button", { name: /Next/ }).click();
    const second = await customers.listCustomers({ orderBy: "value_at_risk desc", pageSize: 50, pageToken: byRisk.nextPageToken });
    await expectList(second.customers);
    await page.getByRole("button", { name: /Previous/ }).click();
    await expectList(byRisk.customers);
  });

  test("filters by churn risk", async () => {
    await page.goto(baseUrl + "/#/customers");
    await page.selectOption("#churn", "high");
    await page.waitForURL(/churn=high/);
    const high = await customers.listCustomers({ filter: "churn_level = high", orderBy: "predicted_value desc", pageSize: 50 });
    assert.ok(high.customers.length > 0, "the demo tenant has customers at high churn risk");
    await expectList(high.customers);
    const badges = await page.locator("table.list tbody .badge").allInnerTexts();
    assert.ok(badges.every((b) => b === "High"), `badges: ${badges}`);

    // Filters combine, with each other and with the order.
    await page.selectOption("#stage", "at_risk");
    await page.selectOption("#segment", "loyal");
    await page.waitForURL(/segment=loyal/);
    const both = await customers.listCustomers({
      filter: "churn_level = high AND lifecycle_stage = at_risk AND rfm_segment = loyal",
      orderBy: "predicted_value desc",
      pageSize: 50,
    });
    await expectList(both.customers);
  });

  test("filters by grade and by segment membership, as the API answers", async () => {
    // A grade some customers hold, but not all.
    const dist = await scoring.getGradeDistribution({});
    const held = dist.grades.find((g) => g.customers > 0n && g.customers < dist.customers);
    assert.ok(held, `the demo tenant has customers of several grades: ${JSON.stringify(dist.grades.map((g) => [g.grade, String(g.customers)]))}`);
    await page.goto(baseUrl + "/#/customers");
    // The choices are the policy's grades, from GetGradeDistribution.
    await page.waitForFunction(
      (want) => JSON.stringify([...document.querySelectorAll<HTMLOptionElement>("#grade option")].map((o) => o.value)) === want,
      JSON.stringify(["", ...dist.grades.map((g) => g.grade)]),
    );
    await page.selectOption("#grade", held.grade);
    await page.waitForURL(/grade=/);
    const graded = await customers.listCustomers({ filter: `grade = "${held.grade}"`, orderBy: "predicted_value desc", pageSize: 50 });
    assert.equal(graded.customers.length, Math.min(50, Number(held.customers)), "ListCustomers agrees with GetGradeDistribution");
    assert.ok(graded.customers.every((c) => c.grade === held.grade));
    await expectList(graded.customers);
    const shown = await page.locator("table.list tbody td[data-field='grade']").allInnerTexts();
    assert.deepEqual(shown, graded.customers.map(() => held.grade));

    // A built-in segment with members, picked by name from ListSegments.
    const all = (await segments.listSegments({})).segments;
    let seg: (typeof all)[number] | undefined;
    let members: string[] = [];
    for (const s of all) {
      const m = await segments.listSegmentMembers({ segmentId: s.id, pageSize: 1000 });
      if (m.members.length > 0 && !m.nextPageToken) {
        seg = s;
        members = m.members.map((x) => x.customerId);
        break;
      }
    }
    assert.ok(seg, "some segment of the demo tenant has members");
    await page.selectOption("#grade", "");
    await page.selectOption("#member", seg.id);
    await page.waitForURL(new RegExp(`member=${seg.id}`));
    const inSeg = await customers.listCustomers({ filter: `segment = "${seg.id}"`, orderBy: "predicted_value desc", pageSize: 50 });
    assert.equal(inSeg.customers.length, Math.min(50, members.length));
    assert.ok(inSeg.customers.every((c) => members.includes(c.id)), "every listed customer is a member");
    await expectList(inSeg.customers);

    // Both, with an order picked from a column header.
    await page.selectOption("#grade", held.grade);
    await page.waitForURL(/grade=.*member=|member=.*grade=/);
    await page.getByRole("button", { name: /Value at risk/ }).click();
    await page.waitForURL(/order=value_at_risk\+desc/);
    const both = await customers.listCustomers({
      filter: `grade = "${held.grade}" AND segment = "${seg.id}"`,
      orderBy: "value_at_risk desc",
      pageSize: 50,
    });
    assert.ok(both.customers.every((c) => c.grade === held.grade && members.includes(c.id)));
    await expectList(both.customers);
    await shot("customers-filtered");
  });

  /** The scoring model the rules and grading tests set up. */
  let model = "";

  test("creates a scoring rule after a dry run that matches the API's", async () => {
    // A model with an order rule: the tenant's first model, or a new one.
    const models = (await scoring.listScoringModels({})).models;
    model = models[0]?.id ?? (await scoring.createScoringModel({ model: { displayName: "Engagement" } })).id;
    await scoring.createScoringRule({
      rule: { modelId: model, displayName: "Order", eventKind: "order", points: 50n, validity: { seconds: 180n * 86_400n } },
    });
    const rulesBefore = (await scoring.listScoringRules({})).rules.length;

    await page.goto(baseUrl + "/#/rules");
    await page.locator("#rules tbody tr").first().waitFor();
    await page.getByRole("button", { name: "New rule" }).click();
    await page.fill("#rule-name", "E-mail click");
    await page.selectOption("#rule-model", model);
    await page.selectOption("#rule-event", "email_clicked");
    await page.fill("#rule-points", "5");
    await page.fill("#rule-validity", "90");
    await page.fill("#rule-cap", "20");
    const proposed = {
      modelId: model, displayName: "E-mail click", eventKind: "email_clicked", points: 5n,
      validity: { seconds: 90n * 86_400n }, cap: 20n,
    };
    const want = await scoring.previewRuleChange({ change: { case: "create", value: proposed } });
    assert.ok(want.scoreChanges > 0n, "the demo tenant has e-mail clicks to score");
    await page.waitForFunction(
      (n) => document.querySelector("#score-changes")?.textContent === n,
      Number(want.scoreChanges).toLocaleString("en-US"),
    );
    assert.equal(await page.locator("#grade-changes").innerText(), Number(want.gradeChanges).toLocaleString("en-US"));
    await shot("rules", true);

    await page.click("#save-rule");
    await page.locator("#rule-editor").waitFor({ state: "detached" });
    await page.waitForFunction((n) => document.querySelectorAll("#rules tbody tr").length === n, rulesBefore + 1);
    const rules = (await scoring.listScoringRules({ modelId: model })).rules;
    const click = rules.find((r) => r.displayName === "E-mail click");
    assert.ok(click, `rules: ${rules.map((r) => r.displayName)}`);
    assert.deepEqual(
      [click.eventKind, click.points, click.validity?.seconds, click.cap],
      ["email_clicked", 5n, 90n * 86_400n, 20n],
    );
  });

  test("changes the grading policy after a dry run whose matrix matches the API's", async () => {
    const before = await scoring.getGradingPolicy({});
    await page.goto(baseUrl + "/#/grading");
    await page.locator("#transition-matrix").waitFor();
    await page.selectOption("#engagement-model", model);
    await page.fill("#engagement-weight", "20");
    await page.fill("#engagement-target", "100");
    await page.fill("#cutoffs", "70, 55, 40, 25, 10");
    const proposed = {
      ...before,
      engagementModelId: model,
      engagementWeight: 20,
      engagementTarget: 100n,
      cutoffs: [70, 55, 40, 25, 10],
    };
    const want = await scoring.previewPolicyChange({ policy: proposed });
    assert.ok(want.gradeChanges > 0n, "the change moves customers");
    await page.waitForFunction(
      (n) => document.querySelector("#grade-changes")?.textContent === n,
      Number(want.gradeChanges).toLocaleString("en-US"),
    );
    const cells = await page
      .locator("#transition-matrix td:not(.zero)")
      .evaluateAll((tds) => tds.map((td) => `${td.getAttribute("data-from")}>${td.getAttribute("data-to")}=${td.textContent}`));
    const wantCells = want.transitions
      .filter((t) => t.count > 0n)
      .map((t) => `${t.fromGrade}>${t.toGrade}=${Number(t.count).toLocaleString("en-US")}`);
    assert.deepEqual(cells.sort(), wantCells.sort());
    await shot("grading", true);

    await page.click("#save");
    await page.getByRole("status").waitFor();
    const after = await scoring.getGradingPolicy({});
    assert.equal(after.version, before.version + 1n);
    assert.deepEqual([after.engagementModelId, after.engagementWeight, after.cutoffs], [model, 20, [70, 55, 40, 25, 10]]);
  });

  test("ranks the top customers by grade and by score as the API does", async () => {
    await page.goto(baseUrl + "/#/top");
    const byGrade = await scoring.listTopCustomers({ orderBy: TopCustomerOrder.GRADE, pageSize: 50 });
    assert.ok(byGrade.customers.length > 0);
    await page.locator("#top tbody tr").first().waitFor();
    const ids = () => page.locator("#top tbody tr").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-customer-id")));
    assert.deepEqual(await ids(), byGrade.customers.map((c) => c.customerId));
    const first = await page.locator("#top tbody tr").first().locator("td").allInnerTexts();
    const top = byGrade.customers[0];
    assert.deepEqual([first[3], first[5]], [top.grade, String(top.score)]);

    await page.selectOption("#top-order", String(TopCustomerOrder.SCORE));
    const byScore = await scoring.listTopCustomers({ orderBy: TopCustomerOrder.SCORE, pageSize: 50 });
    await page.waitForFunction(
      (id) => document.querySelector("#top tbody tr")?.getAttribute("data-customer-id") === id,
      byScore.customers[0].customerId,
    );
    assert.deepEqual(await ids(), byScore.customers.map((c) => c.customerId));
    await shot("top");
  });

  test("edits a segment rule, previews the count the API gives, and saves it", async () => {
    // The list: every segment the API lists, with its member count.
    const listed = (await segments.listSegments({})).segments;
    assert.ok(listed.some((s) => s.builtIn), "the tenant has built-in segments");
    await page.goto(baseUrl + "/#/segments");
    await page.locator("#segments tbody tr").first().waitFor();
    const rows = await page.locator("#segments tbody tr").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-segment-id")));
    assert.deepEqual([...rows].sort(), listed.map((s) => s.id).sort());
    const champions = listed.find((s) => s.builtIn && s.rule.includes("champions"))!;
    let members = 0;
    for (let token = "", first = true; first || token; first = false) {
      const p = await segments.listSegmentMembers({ segmentId: champions.id, pageSize: 1000, pageToken: token });
      members += p.members.length;
      token = p.nextPageToken;
    }
    assert.ok(members > 0, "the demo tenant has champions");
    await page.waitForFunction(
      ([id, n]) => document.querySelector(`#segments tr[data-segment-id='${id}'] [data-field='members']`)?.textContent === n,
      [champions.id, members.toLocaleString("en-US")],
    );
    await shot("segments", true);

    // A new dynamic segment: each rule typed is previewed as the API previews it.
    await page.click("#new-segment");
    await page.waitForURL(/#\/segments\/new$/);
    await page.fill("#segment-name", "Poland, high value");
    const expectPreview = async (rule: string) => {
      const want = await segments.previewSegment({ rule, sampleSize: 10 });
      await page.waitForFunction(
        (n) => document.querySelector("#segment-preview-count")?.textContent === n,
        Number(want.count).toLocaleString("en-US"),
      );
      const sample = await page.locator("#segment-sample tbody tr").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-customer-id")));
      assert.deepEqual(sample, want.sample.map((c) => c.id));
      return want.count;
    };
    const wide = 'customer.country == "PL"';
    const narrow = 'customer.country == "PL" && clv.predicted > 200.0';
    await page.fill("#segment-rule", wide);
    const wideCount = await expectPreview(wide);
    await page.fill("#segment-rule", narrow);
    const narrowCount = await expectPreview(narrow);
    assert.ok(narrowCount > 0n && narrowCount < wideCount, `counts: ${wideCount} then ${narrowCount}`);

    // A wrong rule shows where it is wrong, as the API says, and cannot be saved.
    const wrong = 'customer.country == "PL" &&\nclv.predicted > "x"';
    const err = await segments.previewSegment({ rule: wrong }).then(
      () => assert.fail("the wrong rule was accepted"),
      (e: unknown) => ConnectError.from(e),
    );
    const [, line, column] = /line (\d+), column (\d+)/.exec(err.rawMessage) ?? [];
    assert.equal(line, "2", err.rawMessage);
    expectRejectedPreview = true;
    await page.fill("#segment-rule", wrong);
    await page.locator("#segment-rule-error").waitFor();
    expectRejectedPreview = false;
    assert.deepEqual(
      [await page.locator("#segment-rule-error").getAttribute("data-line"), await page.locator("#segment-rule-error").getAttribute("data-column")],
      [line, column],
    );
    assert.ok(await page.locator("#save-segment").isDisabled());
    await shot("segment-rule-error");

    await page.fill("#segment-rule", narrow);
    await expectPreview(narrow);
    await shot("segment-editor", true);
    await page.click("#save-segment");
    await page.waitForURL(/#\/segments\/[0-9a-f-]{36}$/);
    const id = decodeURIComponent(page.url().split("/").pop()!);
    const saved = await segments.getSegment({ id });
    assert.deepEqual([saved.name, saved.kind, saved.rule], ["Poland, high value", SegmentKind.DYNAMIC, narrow]);
    // Saved at once, it holds exactly the previewed customers.
    await page.waitForFunction(
      (n) => document.querySelector("#segment-members [data-field='members']")?.textContent === n,
      Number(narrowCount).toLocaleString("en-US"),
    );
    const firstPage = await segments.listSegmentMembers({ segmentId: id, pageSize: 25 });
    await page.locator("#segment-members tbody tr").first().waitFor();
    assert.deepEqual(
      await page.locator("#segment-members tbody tr").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-customer-id"))),
      firstPage.members.map((m) => m.customerId),
    );

    // Editing the saved rule: the preview follows, and saving re-evaluates.
    await page.fill("#segment-rule", wide);
    await expectPreview(wide);
    await page.click("#save-segment");
    await page.getByRole("status").waitFor();
    assert.equal((await segments.getSegment({ id })).rule, wide);
    await page.waitForFunction(
      (n) => document.querySelector("#segment-members [data-field='members']")?.textContent === n,
      Number(wideCount).toLocaleString("en-US"),
    );
    await shot("segment", true);
  });

  test("adds and removes a static segment's members, lists them, and deletes the segment", async () => {
    const [first, second] = (await customers.listCustomers({ orderBy: "predicted_value desc", pageSize: 2 })).customers;
    await page.goto(baseUrl + "/#/segments/new");
    await page.fill("#segment-name", "Call back this week");
    await page.selectOption("#segment-kind", String(SegmentKind.STATIC));
    await page.click("#save-segment");
    await page.waitForURL(/#\/segments\/[0-9a-f-]{36}$/);
    const id = page.url().split("/").pop()!;
    const created = await segments.getSegment({ id });
    assert.deepEqual([created.name, created.kind], ["Call back this week", SegmentKind.STATIC]);
    const memberIds = async () => (await segments.listSegmentMembers({ segmentId: id, pageSize: 100 })).members.map((m) => m.customerId);
    const shownIds = () => page.locator("#segment-members tbody tr").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-customer-id")));
    const waitForMembers = (ids: string[]) =>
      page.waitForFunction(
        (ids) =>
          JSON.stringify([...document.querySelectorAll("#segment-members tbody tr")].map((tr) => tr.getAttribute("data-customer-id")).sort()) ===
          JSON.stringify(ids),
        [...ids].sort(),
      );

    // One by its CRM id, one by its id.
    await page.fill("#member-ref", first.externalId);
    await page.click("#add-member-button");
    await waitForMembers([first.id]);
    await page.fill("#member-ref", second.id);
    await page.click("#add-member-button");
    await waitForMembers([first.id, second.id]);
    assert.deepEqual((await memberIds()).sort(), [first.id, second.id].sort());
    assert.deepEqual((await shownIds()).sort(), [first.id, second.id].sort());
    await shot("segment-static", true);

    // The customer list filtered by the new segment shows exactly them.
    await page.goto(baseUrl + `/#/customers?member=${id}`);
    const listed = await customers.listCustomers({ filter: `segment = "${id}"`, orderBy: "predicted_value desc", pageSize: 50 });
    assert.deepEqual(listed.customers.map((c) => c.id).sort(), [first.id, second.id].sort());
    await expectList(listed.customers);

    // Removing one leaves the other, in the page and in the API.
    await page.goto(baseUrl + `/#/segments/${id}`);
    await waitForMembers([first.id, second.id]);
    await page.locator(`#segment-members tr[data-customer-id='${first.id}'] button.remove-member`).click();
    await waitForMembers([second.id]);
    assert.deepEqual(await memberIds(), [second.id]);

    // Deleting asks first; cancelling keeps the segment.
    await page.click("#delete-segment-button");
    await page.click("#cancel-delete");
    assert.equal((await segments.getSegment({ id })).id, id);
    await page.click("#delete-segment-button");
    await page.getByRole("alertdialog").waitFor();
    await page.click("#confirm-delete");
    await page.waitForURL(/#\/segments$/);
    await page.locator("#segments tbody tr").first().waitFor();
    assert.equal(await page.locator(`#segments tr[data-segment-id='${id}']`).count(), 0);
    const gone = await segments.getSegment({ id }).then(
      () => null,
      (e: unknown) => ConnectError.from(e).code,
    );
    assert.equal(gone, Code.NotFound);
  });

  test("finds a customer by its CRM id and shows its assessment as the API returns it", async () => {
    // A customer with a full assessment: purchases, a churn warning, reasons.
    const risky = await customers.listCustomers({ filter: "churn_level = high", orderBy: "value_at_risk desc", pageSize: 1 });
    const target = risky.customers[0];
    assert.ok(target, "no customer at high churn risk");

    // Some feedback of its own: an NPS answer and a complaint.
    const ref = { ref: { case: "externalId" as const, value: target.externalId } };
    const yesterday = timestampFromDate(new Date(Date.now() - 86_400_000));
    for (const f of [
      { externalId: `${target.externalId}-nps`, kind: FeedbackKind.NPS, score: 9, channel: "email", text: "Quick delivery.", occurredAt: yesterday },
      { externalId: `${target.externalId}-c1`, kind: FeedbackKind.COMPLAINT, channel: "phone", topic: "delivery", text: "The parcel came damaged.", occurredAt: yesterday },
    ]) {
      await feedback.submitFeedback({ feedback: { ...f, customer: ref } });
    }

    await page.goto(baseUrl + "/#/customers");
    await page.fill("#search", target.externalId);
    await page.press("#search", "Enter");
    await page.waitForURL(new RegExp(`q=${target.externalId}`));
    await expectList([target]);
    await page.getByRole("link", { name: target.displayName }).click();
    await page.waitForURL(new RegExp(`#/customers/${target.id}$`));
    await page.locator("[data-field='value.predicted']").waitFor();

    const a = await scoring.getCustomerAssessment({ ref: { case: "customerId", value: target.id } });
    const c = await customers.getCustomer({ ref: { case: "id", value: target.id } });
    const want: Record<string, string> = {
      "value.predicted": money(a.value!.predicted),
      "value.value_at_risk": money(a.value!.valueAtRisk),
      "value.historical": money(a.value!.historical),
      "value.p_alive": percent(a.value!.pAlive),
      "value.expected_purchases": a.value!.expectedPurchases.toFixed(2),
      "value.expected_spend": money(a.value!.expectedSpend),
      "value.horizon_months": String(a.value!.horizonMonths),
      "value.explanation": a.value!.explanation,
      "rfm.segment": segmentNames[a.rfm!.segment],
      "rfm.cell": a.rfm!.cell,
      "rfm.recency_score": String(a.rfm!.recencyScore),
      "rfm.frequency_score": String(a.rfm!.frequencyScore),
      "rfm.monetary_score": String(a.rfm!.monetaryScore),
      "rfm.recency_days": String(a.rfm!.recencyDays),
      "rfm.explanation": a.rfm!.explanation,
      "churn.level": churnNames[a.churn!.level],
      "churn.reasons": a.churn!.reasons.map((r) => reasonNames[r]).join("\n"),
      "churn.explanation": a.churn!.explanation,
      "lifecycle.stage": stageNames[a.lifecycle!.stage],
      "lifecycle.explanation": a.lifecycle!.explanation,
      "purchases.total_spend": money(c.purchases!.totalSpend),
      "purchases.orders": String(c.purchases!.orders),
    };
    const shown: Record<string, string> = {};
    for (const field of Object.keys(want)) {
      shown[field] = (await page.locator(`[data-field='${field}']`).innerText()).trim();
    }
    assert.deepEqual(shown, want);
    assert.equal(await page.locator("h1").innerText(), c.displayName);

    // Its grade, points and grade history, as the scoring RPCs give them.
    const [g, points, history] = await Promise.all([
      scoring.getCustomerGrade({ ref: { case: "customerId", value: target.id } }),
      scoring.explainScore({ ref: { case: "customerId", value: target.id } }),
      scoring.listGradeChanges({ ref: { case: "customerId", value: target.id }, pageSize: 20 }),
    ]);
    await page.locator("#ledger, #points p.muted").first().waitFor();
    await page.locator("#grade-history table").waitFor();
    const grade: Record<string, string> = {};
    for (const field of ["grade.grade", "grade.composite", "grade.value_score", "grade.engagement_score", "grade.fit_score", "grade.explanation", "score.points"]) {
      grade[field] = (await page.locator(`[data-field='${field}']`).innerText()).trim();
    }
    assert.deepEqual(grade, {
      "grade.grade": g.grade,
      "grade.composite": fixed(g.composite),
      "grade.value_score": fixed(g.valueScore, 1),
      "grade.engagement_score": fixed(g.engagementScore, 1),
      "grade.fit_score": fixed(g.fitScore, 1),
      "grade.explanation": g.explanation,
      "score.points": String(points.score!.points),
    });
    const ledger = await page.locator("#ledger tbody tr").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-entry-id")));
    assert.deepEqual(ledger, points.entries.map((e) => e.id));
    assert.ok(points.entries.length > 0, "the customer has points under the rules set up above");
    assert.equal(await page.locator("#grade-history tbody tr").count(), history.changes.length);
    const given = await feedback.listFeedback({ customer: ref, pageSize: 20 });
    await page.locator("#feedback table").waitFor();
    assert.deepEqual(
      await page.locator("#feedback tbody tr").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-feedback-id"))),
      given.feedback.map((f) => f.id),
    );
    assert.equal(given.feedback.length, 2);
    // Its segments now and its history of entries and exits.
    const [inNow, history2] = await Promise.all([
      segments.listCustomerSegments({ customer: ref }),
      segments.listSegmentEvents({ customer: ref, pageSize: 1000 }),
    ]);
    await page.locator("#segments-now").waitFor();
    assert.deepEqual(
      (await page.locator("#segments-now a").evaluateAll((as) => as.map((a) => a.getAttribute("data-segment-id")))).sort(),
      [...inNow.segmentIds].sort(),
    );
    assert.ok(inNow.segmentIds.length > 0, "the customer is in some segment");
    assert.deepEqual(
      await page.locator("#segment-history tbody tr").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-cursor"))),
      history2.events.map((e) => String(e.cursor)).reverse().slice(0, 50),
    );
    await page.locator("#grade-history").scrollIntoViewIfNeeded();

    // The page's address is the customer's: a reload shows it again, still
    // signed in (the key lives as long as the tab).
    await page.reload();
    await page.locator("[data-field='value.predicted']").waitFor();
    assert.equal(await page.locator("[data-field='rfm.explanation']").innerText(), a.rfm!.explanation);
    assert.ok(a.churn!.reasons.length > 0 && a.rfm!.cell !== "", "the chosen customer has reasons and an RFM cell");
    await shot("customer", true);
  });

  test("insights show the tenant's distributions as the API returns them", async () => {
    await page.goto(baseUrl + "/#/insights");
    await page.locator("#clv-deciles canvas").waitFor();
    const [rfm, churn, lifecycle, grades] = await Promise.all([
      scoring.getRfmDistribution({}),
      scoring.getChurnSummary({}),
      scoring.getLifecycleSummary({}),
      scoring.getGradeDistribution({}),
    ]);

    // The grade histogram: every grade of the policy, best first, with the
    // customers holding it.
    const bars = await page.locator("#grade-histogram table tbody tr").evaluateAll((trs) =>
      trs.map((tr) => [tr.querySelector("th")?.textContent, tr.querySelector("td")?.textContent]),
    );
    assert.deepEqual(
      bars,
      grades.grades.map((g) => [g.grade, Number(g.customers).toLocaleString("en-US")]),
    );
    assert.ok(grades.grades.length >= 2 && grades.customers > 0n, "the demo tenant is graded");

    const cells = await page
      .locator("#rfm-heatmap td")
      .evaluateAll((tds) => tds.map((td) => `${td.getAttribute("data-column")}${td.getAttribute("data-row")}=${td.textContent}`));
    const wantCells = rfm.grid.map((g) => `${g.recencyScore}${g.frequencyScore}=${Number(g.customers).toLocaleString("en-US")}`);
    assert.deepEqual(cells.sort(), wantCells.sort());
    assert.ok(rfm.grid.some((g) => g.customers > 0n));

    for (const l of churn.levels) {
      const row = page.locator(`#churn-table tr[data-level='${ChurnLevel[l.level].toLowerCase()}'] td`);
      assert.deepEqual(await row.allInnerTexts(), [
        Number(l.customers).toLocaleString("en-US"),
        money(l.predictedValue),
        money(l.valueAtRisk),
      ]);
    }

    const funnel = await page.locator("#lifecycle-funnel table tbody tr").evaluateAll((trs) =>
      trs.map((tr) => [tr.querySelector("th")?.textContent, tr.querySelector("td")?.textContent]),
    );
    const wantFunnel = [
      LifecycleStage.LEAD,
      LifecycleStage.NEW,
      LifecycleStage.ACTIVE,
      LifecycleStage.AT_RISK,
      LifecycleStage.CHURNED,
      LifecycleStage.REACTIVATED,
    ].map((s) => [stageNames[s], Number(lifecycle.stages.find((x) => x.stage === s)?.customers ?? 0).toLocaleString("en-US")]);
    assert.deepEqual(funnel, wantFunnel);

    // Deciles: ten groups of the customers by predicted value, largest first.
    const deciles = await page.locator("#clv-deciles table tbody tr td").allInnerTexts();
    assert.equal(deciles.length, 10);
    const values = deciles.map((d) => Number(d.replace(/,/g, "")));
    assert.ok(values.every((v, i) => i === 0 || v <= values[i - 1]), `deciles not decreasing: ${values}`);
    assert.ok(values[0] > 0);
    await page.locator("#nps-total").waitFor();
    const summary = await feedback.getFeedbackSummary({});
    assert.ok(summary.nps && summary.nps.responses > 0n, "the NPS answer given above is counted");
    assert.match(await page.locator("#nps-total").innerText(), new RegExp(`^NPS ${summary.nps.score?.toFixed(0)} over the 12 weeks, from ${summary.nps.responses} answers?\\b`));
    await shot("insights", true);
  });

  test("signing out forgets the key", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.locator("#api-key").waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem("potential.apiKey")), null);
    await page.reload();
    await page.locator("#api-key").waitFor();
  });

  test("nothing went wrong in the page", () => {
    assert.deepEqual(pageErrors, []);
  });
});
