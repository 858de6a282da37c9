// Calls a running Potential (POTENTIAL_URL, POTENTIAL_API_KEY) through the
// SDK from Node, over each protocol the service speaks on its HTTP port:
// Connect, gRPC and gRPC-Web (@connectrpc/connect-node), unary calls and a
// server stream. `npm test` starts a server with a small fitted demo tenant
// for it (test/run.mjs).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { CustomerService } from "@potentialhq/potential-sdk/potential/customer/v1/customer_service_pb.js";
import { TransactionKind } from "@potentialhq/potential-sdk/potential/customer/v1/events_pb.js";
import { ScoringService } from "@potentialhq/potential-sdk/potential/scoring/v1/scoring_service_pb.js";

const baseUrl = process.env.POTENTIAL_URL ?? "";
const key = process.env.POTENTIAL_API_KEY ?? "";
if (!baseUrl || !key) throw new Error("set POTENTIAL_URL and POTENTIAL_API_KEY (npm test does)");

/** bearer sends the API key on every call. */
const bearer =
  (k: string): Interceptor =>
  (next) =>
  (req) => {
    req.header.set("Authorization", `Bearer ${k}`);
    return next(req);
  };

const transports: Record<string, (interceptors: Interceptor[]) => Transport> = {
  connect: (interceptors) => createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors }),
  grpc: (interceptors) => createGrpcTransport({ baseUrl, interceptors }),
  "grpc-web": (interceptors) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors }),
};

const unique = () => randomBytes(6).toString("hex");
const ref = (externalId: string) => ({ ref: { case: "externalId" as const, value: externalId } });

for (const [protocol, transport] of Object.entries(transports)) {
  describe(protocol, () => {
    const client = createClient(CustomerService, transport([bearer(key)]));

    test("creates a customer, records its orders once, and reads them back", async () => {
      const ext = `sdk-${protocol}-${unique()}`;
      const created = await client.createCustomer({
        customer: { externalId: ext, givenName: "Ada", familyName: "Lovelace", email: `${ext}@example.com`, country: "PL" },
      });
      assert.match(created.id, /^[0-9a-f-]{36}$/);
      assert.equal(created.displayName, "Ada Lovelace");

      const orders = {
        transactions: [
          { externalId: `${ext}-o1`, customer: ref(ext), kind: TransactionKind.ORDER, amount: "129.99",
            occurredAt: timestampFromDate(new Date("2026-01-15T10:00:00Z")) },
          { externalId: `${ext}-o2`, customer: ref(ext), kind: TransactionKind.ORDER, amount: "40",
            occurredAt: timestampFromDate(new Date("2026-03-02T16:30:00Z")) },
        ],
      };
      const first = await client.recordTransactions(orders);
      assert.deepEqual([first.createdCount, first.alreadyKnownCount], [2, 0]);
      // A resend (a retry after a lost answer, say) changes nothing.
      const again = await client.recordTransactions(orders);
      assert.deepEqual([again.createdCount, again.alreadyKnownCount], [0, 2]);

      const got = await client.getCustomer(ref(ext));
      assert.equal(got.id, created.id);
      assert.equal(got.purchases?.totalSpend, "169.99");
      assert.equal(got.purchases?.orders, 2n);
      assert.equal(got.purchases?.purchaseDays, 2n);

      const listed = await client.listCustomers({ filter: `external_id = "${ext}"` });
      assert.deepEqual(
        listed.customers.map((c) => c.id),
        [created.id],
      );
    });

    test("pages through a filtered list, every customer once", async () => {
      const channel = `sdk-${unique()}`;
      const want = new Set<string>();
      for (let i = 0; i < 5; i++) {
        const c = await client.createCustomer({ customer: { externalId: `${channel}-${i}`, acquisitionChannel: channel } });
        want.add(c.id);
      }
      const seen: string[] = [];
      let pageToken = "";
      let pages = 0;
      do {
        const page = await client.listCustomers({
          filter: `acquisition_channel = "${channel}"`, orderBy: "external_id", pageSize: 2, pageToken,
        });
        seen.push(...page.customers.map((c) => c.id));
        pageToken = page.nextPageToken;
        pages++;
      } while (pageToken);
      assert.equal(pages, 3);
      assert.deepEqual(new Set(seen), want);
      assert.equal(seen.length, want.size);
    });

    test("errors carry their code and name the offending field", async () => {
      const anonymous = createClient(CustomerService, transport([]));
      await assert.rejects(anonymous.listCustomers({}), (err) => {
        assert.equal(ConnectError.from(err).code, Code.Unauthenticated);
        return true;
      });

      const ext = `sdk-${protocol}-${unique()}`;
      await client.createCustomer({ customer: { externalId: ext } });
      await assert.rejects(client.createCustomer({ customer: { externalId: ext } }), (err) => {
        assert.equal(ConnectError.from(err).code, Code.AlreadyExists);
        return true;
      });

      await assert.rejects(
        client.recordTransactions({
          transactions: [{ externalId: `${ext}-bad`, customer: ref(ext), kind: TransactionKind.ORDER, amount: "abc",
            occurredAt: timestampFromDate(new Date("2026-01-01T00:00:00Z")) }],
        }),
        (err) => {
          const e = ConnectError.from(err);
          assert.equal(e.code, Code.InvalidArgument);
          assert.match(e.rawMessage, /transactions\[0\]\.amount/);
          assert.ok(e.details.some((d) => "type" in d && d.type === "google.rpc.BadRequest"));
          return true;
        },
      );
    });
  });
}

describe("scoring", () => {
  const t = transports.connect([bearer(key)]);
  const customers = createClient(CustomerService, t);
  const scoring = createClient(ScoringService, t);

  test("a rule's points reach the ledger with their expiry, and the grade explains itself", async () => {
    const policy = await scoring.getGradingPolicy({});
    assert.ok(policy.grades.length >= 2, `grades: ${policy.grades}`);

    const ext = `sdk-score-${unique()}`;
    await customers.createCustomer({ customer: { externalId: ext } });
    const at = new Date(Date.now() - 10 * 86_400_000);
    await customers.recordTransactions({
      transactions: [{ externalId: `${ext}-o1`, customer: ref(ext), kind: TransactionKind.ORDER, amount: "80",
        occurredAt: timestampFromDate(at) }],
    });

    // A new rule scores every customer from the events already recorded.
    const model = await scoring.createScoringModel({ model: { displayName: `SDK ${unique()}` } });
    const rule = await scoring.createScoringRule({
      rule: { modelId: model.id, displayName: "Order", eventKind: "order", points: 50n, validity: { seconds: 180n * 86_400n } },
    });
    assert.equal(rule.version, 1n);

    const explained = await scoring.explainScore({ ref: { case: "externalId", value: ext }, modelId: model.id });
    assert.equal(explained.score?.points, 50n);
    assert.equal(explained.entries.length, 1);
    const [entry] = explained.entries;
    assert.equal(entry.ruleId, rule.id);
    assert.equal(entry.eventExternalId, `${ext}-o1`);
    const days = (timestampDate(entry.expireTime!).getTime() - timestampDate(entry.awardTime!).getTime()) / 86_400_000;
    assert.equal(days, 180);

    const grade = await scoring.getCustomerGrade({ ref: { case: "externalId", value: ext } });
    assert.ok(policy.grades.includes(grade.grade), `grade ${grade.grade} not in ${policy.grades}`);
    assert.match(grade.explanation, new RegExp(`^Grade ${grade.grade} `));
  });
});

describe("streaming", () => {
  for (const [protocol, transport] of Object.entries(transports)) {
    test(`${protocol}: a value model fit streams its progress, then the model`, async () => {
      const scoring = createClient(ScoringService, transport([bearer(key)]));
      const before = await scoring.getValueModel({});
      const stages: string[] = [];
      let model;
      for await (const msg of scoring.fitValueModel({})) {
        if (msg.result.case === "progress") stages.push(msg.result.value.stage);
        if (msg.result.case === "model") model = msg.result.value;
      }
      assert.equal(stages[0], "loading");
      assert.ok(stages.includes("fitting"), `stages: ${stages}`);
      assert.ok(model, "the stream ends with the model");
      assert.equal(model.version, before.version + 1n);
      assert.ok(model.bgNbd && model.bgNbd.r > 0, "BG/NBD parameters are fitted");
      assert.equal((await scoring.getValueModel({})).version, model.version);
    });
  }
});
