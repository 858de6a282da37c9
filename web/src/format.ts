// How figures and enum values are written on the page. Money comes from the
// API as exact decimal strings and stays exact: digits are only grouped.
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { ChurnLevel, ChurnReason, LifecycleStage, RfmSegment } from "./api";

/**
 * money writes a decimal string rounded to cents with grouped digits:
 * "12345.604" → "12,345.60". Amounts are in the tenant's currency.
 */
export function money(s: string | undefined): string {
  if (!s) return "–";
  const x = Number(s);
  if (!Number.isFinite(x)) return s;
  return x.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

/** percent writes a probability 0–1 as "83.4 %". */
export function percent(p: number): string {
  return `${(p * 100).toFixed(1)} %`;
}

/** fixed writes a number with the given decimals. */
export function fixed(x: number, decimals = 2): string {
  return x.toFixed(decimals);
}

/** count writes an integer count with grouped digits. */
export function count(n: bigint | number): string {
  return Number(n).toLocaleString("en-US");
}

/** date writes a timestamp's UTC day, "2026-03-02", or "–". */
export function date(t: Timestamp | undefined): string {
  if (!t) return "–";
  return new Date(Number(t.seconds) * 1000).toISOString().slice(0, 10);
}

/** words turns an enum member name into words: "CANT_LOSE_THEM" → "Cant lose them". */
function words(name: string | undefined): string {
  if (!name) return "–";
  const s = name.toLowerCase().replace(/_/g, " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** slug is the filter language's name of an enum value: "CANT_LOSE_THEM" → "cant_lose_them". */
export function slug<E extends Record<string | number, string | number>>(e: E, v: number): string {
  return String(e[v]).toLowerCase();
}

const segmentNames: Partial<Record<RfmSegment, string>> = {
  [RfmSegment.CANT_LOSE_THEM]: "Can't lose them",
};

export function segmentLabel(s: RfmSegment | undefined): string {
  if (!s) return "Not scored";
  return segmentNames[s] ?? words(RfmSegment[s]);
}

export function churnLabel(l: ChurnLevel | undefined): string {
  if (!l) return "Not assessed";
  return words(ChurnLevel[l]);
}

const reasonNames: Record<ChurnReason, string> = {
  [ChurnReason.UNSPECIFIED]: "–",
  [ChurnReason.LOW_P_ALIVE]: "Low probability of being active",
  [ChurnReason.LONG_SILENCE]: "Silent longer than usual",
  [ChurnReason.ENGAGEMENT_DROP]: "Engagement dropped",
  [ChurnReason.OPEN_COMPLAINT]: "Open complaint",
};

export function reasonLabel(r: ChurnReason): string {
  return reasonNames[r] ?? words(ChurnReason[r]);
}

export function stageLabel(s: LifecycleStage | undefined): string {
  if (!s) return "Not assessed";
  return words(LifecycleStage[s]);
}

/** Enum values in the order a person reads them, without UNSPECIFIED. */
export const churnLevels = [ChurnLevel.NONE, ChurnLevel.LOW, ChurnLevel.MEDIUM, ChurnLevel.HIGH];
export const stages = [
  LifecycleStage.LEAD,
  LifecycleStage.NEW,
  LifecycleStage.ACTIVE,
  LifecycleStage.AT_RISK,
  LifecycleStage.CHURNED,
  LifecycleStage.REACTIVATED,
];
export const segments = Object.values(RfmSegment).filter(
  (v): v is RfmSegment => typeof v === "number" && v !== RfmSegment.UNSPECIFIED,
);
