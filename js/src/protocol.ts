// The contract with the Python model (docs/widget-protocol.md): trait shapes and messages.
// Limits, choices and labels are not here: Python sends them as data (`field_specs`, read by
// readSpecs) and the next click's count and cost (`plan`). Everything read from the model goes
// through the readers below, which tolerate a missing or malformed trait (an older or newer
// Python side) instead of throwing mid-render.
import type { AnyModel } from "@anywidget/types";

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
  older_runs: number;
  saved_output: string;
  history: HistoryStep[];
  sweep_plan: string;
  sweep_axes: string[];
  sweep_progress: Partial<SweepProgress>;
  sweep_failed: number;
  field_specs: Record<string, unknown>;
  plan: Record<string, unknown>;
}

export type Model = AnyModel<Traits>;

export type ToPython =
  | { type: "generate"; fresh?: true }
  | { type: "retry_failed" }
  | { type: "cancel" }
  | { type: "show_older" }
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

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
export const str = (v: unknown, d = ""): string => (typeof v === "string" ? v : d);
export const num = (v: unknown, d: number): number => (typeof v === "number" && Number.isFinite(v) ? v : d);
export const numOrNull = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

export function list<T>(v: unknown, map: (o: Obj) => T | null): T[] {
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

// --------------------------------------------------------------------------- field specs

/** How a setting is edited (PLAN interface 2); "" for a kind this front end does not know. */
export type FieldKind = "text" | "number" | "bool" | "choice" | "seeds" | "images" | "";
const KINDS: readonly FieldKind[] = ["text", "number", "bool", "choice", "seeds", "images"];
export type Scalar = string | number | boolean | null;

/** One setting as Python's registry describes it: its words and its allowed values. */
export interface FieldSpec {
  name: string;
  label: string;
  kind: FieldKind;
  default: Scalar;
  min: number | null;
  max: number | null;
  step: number | null;
  /** Allowed values; Python's None (nothing sent: the service default) is "". */
  choices: string[];
}

/** Contract limits (null: Python did not say; the front end then leaves the check to Python). */
export interface Limits {
  maxImages: number | null;
  seedMax: number | null;
  compareMax: number | null;
  maxUploadBytes: number | null;
  sweepConcurrencyMax: number | null;
  pricePerImageUsd: number | null;
}

export interface Specs {
  /** By trait name. */
  fields: Record<string, FieldSpec>;
  limits: Limits;
  /** Sweep axis name -> what the grid pickers call it. */
  axes: Record<string, string>;
}

const scalar = (v: unknown): Scalar =>
  typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v)) ? v : null;

function readFieldSpec(trait: string, o: Obj): FieldSpec {
  const kind = str(o.kind) as FieldKind;
  const choices = Array.isArray(o.choices) ? o.choices : [];
  return {
    name: str(o.name, trait),
    label: str(o.label) || trait,
    kind: KINDS.includes(kind) ? kind : "",
    default: scalar(o.default),
    min: numOrNull(o.min),
    max: numOrNull(o.max),
    step: numOrNull(o.step),
    choices: choices.flatMap((c) => (c === null ? [""] : typeof c === "string" ? [c] : [])),
  };
}

export function readSpecs(v: unknown): Specs {
  const o = isObj(v) ? v : {};
  const fields: Record<string, FieldSpec> = {};
  if (isObj(o.fields)) {
    for (const [trait, f] of Object.entries(o.fields)) if (isObj(f)) fields[trait] = readFieldSpec(trait, f);
  }
  const l = isObj(o.limits) ? o.limits : {};
  const axes: Record<string, string> = {};
  for (const [name, label] of Object.entries(isObj(o.axes) ? o.axes : {})) {
    if (typeof label === "string") axes[name] = label;
  }
  return {
    fields,
    limits: {
      maxImages: numOrNull(l.max_images),
      seedMax: numOrNull(l.seed_max),
      compareMax: numOrNull(l.compare_max),
      maxUploadBytes: numOrNull(l.max_upload_bytes),
      sweepConcurrencyMax: numOrNull(l.sweep_concurrency_max),
      pricePerImageUsd: numOrNull(l.price_per_image_usd),
    },
    axes,
  };
}

// --------------------------------------------------------------------------- plan

/** What the next Generate does, as Python's `plan` trait says (PLAN interface 4). */
export interface Plan {
  /** New images the click makes (paid). */
  images: number;
  /** Images the click takes from the store (free). */
  fromStore: number;
  costUsd: number;
  text: string;
}

const count = (v: unknown): number | null =>
  typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : null;

/** The plan, or null when it is missing, empty or malformed (then the view shows no number). */
export function readPlan(v: unknown): Plan | null {
  if (!isObj(v)) return null;
  const images = count(v.images);
  const fromStore = count(v.from_store);
  const costUsd = numOrNull(v.cost_usd);
  if (images === null || fromStore === null || costUsd === null || costUsd < 0) return null;
  return { images, fromStore, costUsd, text: str(v.text) };
}

/** A random whole number from 0 to `max` (the seed range Python sends). */
export function randomInt(max: number): number {
  const a = new Uint32Array(1);
  crypto.getRandomValues(a);
  return Math.floor(((a[0] ?? 0) / 2 ** 32) * (Math.floor(max) + 1));
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
