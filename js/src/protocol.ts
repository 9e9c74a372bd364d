// The contract with the Python model (docs/widget-protocol.md): trait shapes, messages, limits.
// Everything read from the model goes through the readers at the bottom, which tolerate a
// missing or malformed trait (an older or newer Python side) instead of throwing mid-render.
import type { AnyModel } from "@anywidget/types";

export const MAX_IMAGES = 5;
export const SEED_MAX = 2147483647;
export const GUIDANCE_MIN = 1;
export const GUIDANCE_MAX = 20;
export const GUIDANCE_DEFAULT = 3.5;
export const COMPARE_MIN = 1;
export const COMPARE_MAX = 16;
export const MAX_UPLOAD_BYTES = 20 * 1024 * 1024;
export const ASPECT_RATIOS = ["21:9", "16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "9:21"] as const;
export const SWEEP_CONCURRENCY_MAX = 16;
/** What the grid pickers call each sweep axis (Python's names as keys). */
export const AXIS_LABELS: Record<string, string> = {
  prompt: "Prompt",
  aspect_ratio: "Aspect ratio",
  guidance_scale: "Guidance",
  seed: "Seed",
};
/** The "full" reason shown whenever the image list has no room. */
export const FULL_REASON = `At most ${MAX_IMAGES} images: remove one first`;

export type ImageKind = "url" | "file" | "output";
export interface ImageItem {
  id: string;
  name: string;
  kind: ImageKind;
  src: string;
}

export type JobState = "queued" | "uploading" | "running" | "done" | "failed" | "cancelled";
export interface Job {
  key: string;
  label: string;
  state: JobState | string;
  started: number | null;
  finished: number | null;
  error: string;
}

export interface Problem {
  field: string;
  message: string;
}

export interface RowOutput {
  key: string;
  label: string;
  state: string;
}
export interface Row {
  id: string;
  title: string;
  html: string;
  outputs: RowOutput[];
}

export interface HistoryStep {
  key: string;
  label: string;
  thumb: string;
  prompt: string;
  seed: number | null;
  parents: string[];
}

/** A sweep's counts as `sweep_progress` holds them (empty before the first sweep). */
export interface SweepProgress {
  state: string;
  total: number;
  done: number;
  failed: number;
  running: number;
  text: string;
}

/** Every synced trait (front-end-edited first, then Python-only). */
export interface Traits {
  prompt: string;
  aspect_ratio: string;
  seed: number;
  seed_locked: boolean;
  compare: number;
  seed_list: string;
  guidance_scale: number;
  sync_mode: boolean;
  on_busy: string;
  mode: string;
  sweep_seeds: string;
  sweep_guidance: string;
  sweep_ratios: string[];
  sweep_prompts: string;
  sweep_concurrency: number;
  sweep_budget: number;
  sweep_allow_over_budget: boolean;
  sweep_rows: string;
  sweep_cols: string;
  images: ImageItem[];
  simulated: boolean;
  price_per_image: number;
  balance: number | null;
  busy: boolean;
  jobs: Job[];
  status: string;
  problems: Problem[];
  error: string;
  rows: Row[];
  history: HistoryStep[];
  sweep_plan: string;
  sweep_axes: string[];
  sweep_progress: Partial<SweepProgress>;
  sweep_failed: number;
}

export type Model = AnyModel<Traits>;

export type ToPython =
  | { type: "generate" }
  | { type: "retry_failed" }
  | { type: "cancel" }
  | { type: "add_url"; url: string }
  | { type: "add_files"; names: string[] }
  | { type: "remove_image"; id: string }
  | { type: "move_image"; id: string; to: number }
  | { type: "use_as_input"; key: string }
  | { type: "fetch_full"; key: string; request_id: string }
  | { type: "fetch_input"; index: number; request_id: string }
  | { type: "copy_code"; key: string; request_id: string }
  | { type: "frontend_error"; message: string };

export interface FullAnswer {
  type: "full";
  request_id: string;
  mime?: string;
  name?: string;
  url?: string;
  error?: string;
}
export interface CodeAnswer {
  type: "code";
  request_id: string;
  code?: string;
  error?: string;
}
export type FromPython = FullAnswer | CodeAnswer;

// --------------------------------------------------------------------------- readers

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
export const str = (v: unknown, d = ""): string => (typeof v === "string" ? v : d);
export const num = (v: unknown, d: number): number => (typeof v === "number" && Number.isFinite(v) ? v : d);
const numOrNull = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

function list<T>(v: unknown, map: (o: Obj) => T | null): T[] {
  if (!Array.isArray(v)) return [];
  const out: T[] = [];
  for (const item of v) {
    const mapped = isObj(item) ? map(item) : null;
    if (mapped !== null) out.push(mapped);
  }
  return out;
}

export function readImages(v: unknown): ImageItem[] {
  return list(v, (o) => {
    const id = str(o.id);
    if (!id) return null;
    const kind = str(o.kind);
    return {
      id,
      name: str(o.name, id),
      kind: kind === "file" || kind === "output" ? kind : "url",
      src: str(o.src),
    };
  });
}

export function readJobs(v: unknown): Job[] {
  return list(v, (o) => ({
    key: str(o.key),
    label: str(o.label, str(o.key)),
    state: str(o.state, "queued"),
    started: numOrNull(o.started),
    finished: numOrNull(o.finished),
    error: str(o.error),
  }));
}

export function readProblems(v: unknown): Problem[] {
  return list(v, (o) => ({ field: str(o.field), message: str(o.message) }));
}

export function readRows(v: unknown): Row[] {
  return list(v, (o) => ({
    id: str(o.id),
    title: str(o.title),
    html: str(o.html),
    outputs: list(o.outputs, (p) => {
      const key = str(p.key);
      return key ? { key, label: str(p.label, key), state: str(p.state) } : null;
    }),
  }));
}

export function readHistory(v: unknown): HistoryStep[] {
  return list(v, (o) => ({
    key: str(o.key),
    label: str(o.label),
    thumb: str(o.thumb),
    prompt: str(o.prompt),
    seed: numOrNull(o.seed),
    parents: Array.isArray(o.parents) ? o.parents.filter((p): p is string => typeof p === "string") : [],
  }));
}

export const strList = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];

export function readSweepProgress(v: unknown): SweepProgress | null {
  if (!isObj(v) || typeof v.total !== "number") return null;
  return {
    state: str(v.state),
    total: num(v.total, 0),
    done: num(v.done, 0),
    failed: num(v.failed, 0),
    running: num(v.running, 0),
    text: str(v.text),
  };
}

export function readAnswer(v: unknown): FromPython | null {
  if (!isObj(v)) return null;
  const request_id = str(v.request_id);
  if (!request_id) return null;
  const error = typeof v.error === "string" && v.error ? { error: v.error } : {};
  if (v.type === "full") {
    const a: FullAnswer = { type: "full", request_id, ...error };
    if (typeof v.mime === "string") a.mime = v.mime;
    if (typeof v.name === "string") a.name = v.name;
    if (typeof v.url === "string") a.url = v.url;
    return a;
  }
  if (v.type === "code") {
    const a: CodeAnswer = { type: "code", request_id, ...error };
    if (typeof v.code === "string") a.code = v.code;
    return a;
  }
  return null;
}

// --------------------------------------------------------------------------- seeds

/** Parse the seed list ("1, 7, 42") as Python's jobs.parse_seed_list does; `error` names the problem. */
export function parseSeedList(text: string): { seeds: number[]; error: string } {
  const seeds: number[] = [];
  for (const p of text.split(/[\s,;]+/).filter((t) => t !== "")) {
    const bad = !/^\d+$/.test(p) || Number(p) > SEED_MAX;
    if (bad || seeds.includes(Number(p))) {
      const why = bad ? `a whole number from 0 to ${SEED_MAX}` : "each seed once";
      return { seeds, error: `Seed list: “${p}” is not allowed; expected ${why}` };
    }
    seeds.push(Number(p));
  }
  if (seeds.length > COMPARE_MAX)
    return { seeds, error: `Seed list: at most ${COMPARE_MAX} seeds, not ${seeds.length}` };
  return { seeds, error: "" };
}

/** How many predictions a Generate click would start. */
export function seedCount(seedList: string, compare: number): number {
  if (seedList.trim()) {
    const parsed = parseSeedList(seedList);
    return parsed.error ? 0 : parsed.seeds.length;
  }
  return Math.min(COMPARE_MAX, Math.max(COMPARE_MIN, Math.round(compare)));
}

export function randomSeed(): number {
  const a = new Uint32Array(1);
  crypto.getRandomValues(a);
  return (a[0] ?? 0) & SEED_MAX;
}

/** An http(s) URL with a host, like Python's payload.is_http_url. */
export function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
  } catch {
    return false;
  }
}
