// The dashboard's only way to the service: Connect clients generated from
// proto/potential (../gen/ts), on the page's own origin, with the API key
// the user signed in with sent as `Authorization: Bearer <key>`.
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { CustomerService } from "../../gen/ts/potential/customer/v1/customer_service_pb.js";
import { FeedbackService } from "../../gen/ts/potential/feedback/v1/feedback_service_pb.js";
import { ScoringService } from "../../gen/ts/potential/scoring/v1/scoring_service_pb.js";
import { SegmentService } from "../../gen/ts/potential/segment/v1/segment_service_pb.js";

export type { Customer } from "../../gen/ts/potential/customer/v1/customer_pb.js";
export {
  ChurnLevel,
  ChurnReason,
  LifecycleStage,
  RfmSegment,
  type CustomerAssessment,
} from "../../gen/ts/potential/scoring/v1/assessment_pb.js";
export type {
  GetChurnSummaryResponse,
  GetLifecycleSummaryResponse,
  GetRfmDistributionResponse,
} from "../../gen/ts/potential/scoring/v1/scoring_service_pb.js";
export type { ValueModel } from "../../gen/ts/potential/scoring/v1/value_model_pb.js";
export {
  GradeChangeCause,
  ThresholdMode,
  TopCustomerOrder,
  ValueSource,
  type GradePreview,
  type GradingPolicy,
} from "../../gen/ts/potential/scoring/v1/grading_pb.js";
export type { ScoringRule } from "../../gen/ts/potential/scoring/v1/rules_pb.js";
export {
  SegmentEventKind,
  SegmentKind,
  type PreviewSegmentResponse,
  type Segment,
  type SegmentEvent,
  type SegmentMember,
} from "../../gen/ts/potential/segment/v1/segment_service_pb.js";

/** KEY_ITEM is where the API key is kept: this tab's sessionStorage only. */
const KEY_ITEM = "potential.apiKey";

export function apiKey(): string | null {
  return sessionStorage.getItem(KEY_ITEM);
}

export function signOut(): void {
  sessionStorage.removeItem(KEY_ITEM);
  clients = null;
}

/** Listeners told when a call comes back Unauthenticated (key revoked or expired). */
const onUnauthenticated = new Set<() => void>();
export function whenUnauthenticated(fn: () => void): () => void {
  onUnauthenticated.add(fn);
  return () => onUnauthenticated.delete(fn);
}

export interface Clients {
  customers: Client<typeof CustomerService>;
  scoring: Client<typeof ScoringService>;
  feedback: Client<typeof FeedbackService>;
  segments: Client<typeof SegmentService>;
}

function connect(key: string): Clients {
  const auth: Interceptor = (next) => async (req) => {
    req.header.set("Authorization", `Bearer ${key}`);
    try {
      return await next(req);
    } catch (err) {
      if (ConnectError.from(err).code === Code.Unauthenticated) {
        onUnauthenticated.forEach((fn) => fn());
      }
      throw err;
    }
  };
  // Same origin: the page is served by potential serve, next to the API.
  const transport = createConnectTransport({ baseUrl: location.origin, interceptors: [auth] });
  return {
    customers: createClient(CustomerService, transport),
    scoring: createClient(ScoringService, transport),
    feedback: createClient(FeedbackService, transport),
    segments: createClient(SegmentService, transport),
  };
}

let clients: Clients | null = null;

/** api returns the clients for the signed-in key; call only when signed in. */
export function api(): Clients {
  if (!clients) {
    const key = apiKey();
    if (!key) throw new ConnectError("not signed in", Code.Unauthenticated);
    clients = connect(key);
  }
  return clients;
}

/** feedback is the FeedbackService client of the signed-in key. */
export const feedback = () => api().feedback;

/**
 * signIn checks key with one cheap call before keeping it, so a mistyped
 * key is refused at the door rather than on the first page.
 */
export async function signIn(key: string): Promise<void> {
  const c = connect(key);
  await c.customers.listCustomers({ pageSize: 1 });
  sessionStorage.setItem(KEY_ITEM, key);
  clients = c;
}

/** message says what went wrong in words a user can act on. */
export function message(err: unknown): string {
  const e = ConnectError.from(err);
  switch (e.code) {
    case Code.Unauthenticated:
      return "The API key was not accepted. Check it, or ask an administrator for a new one.";
    case Code.PermissionDenied:
      return "This API key may not do that.";
    case Code.Unavailable:
      return "The service cannot be reached. Try again in a moment.";
    case Code.NotFound:
      return "Not found.";
  }
  return e.rawMessage || e.message;
}
