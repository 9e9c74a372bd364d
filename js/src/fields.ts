// Two-way bindings between form controls and the traits the user edits. A number that the
// front end can already tell is wrong (outside Python's limits) is refused with a visible
// reason and not saved; texts (seed lists, sweep axes) are Python's to check.
import type { Ctx } from "./context";
import { h, uid } from "./dom";
import { type Traits, str } from "./protocol";

type NumKey = "seed" | "compare" | "guidance_scale" | "sweep_concurrency" | "sweep_budget";
type BoolKey = "seed_locked" | "sync_mode" | "sweep_allow_over_budget";
type TextKey = "prompt" | "seed_list" | "sweep_seeds" | "sweep_guidance" | "sweep_prompts";

/** A <label for> + control pair; returns [wrapper, control]. */
export function labelled<T extends HTMLElement>(
  text: string,
  control: T,
  cls = "kw-field",
): [HTMLElement, T] {
  const id = control.id || uid("f");
  control.id = id;
  return [h("div", { class: cls }, h("label", { for: id }, text), control), control];
}

/** Keep a control showing the trait unless the user is in the middle of editing it. */
function follow(
  ctx: Ctx,
  input: HTMLInputElement | HTMLTextAreaElement,
  key: keyof Traits,
  value: () => string,
): void {
  let shown = input.value;
  const sync = (): void => {
    const v = value();
    if (document.activeElement !== input || input.value === shown) input.value = v;
    shown = v;
  };
  ctx.watch([key], sync);
  ctx.on(input, "blur", () => {
    if (!input.getAttribute("aria-invalid") && input.value !== shown) sync();
  });
}

/** What a number box accepts; a null bound is left to Python (it did not send one). */
export interface NumberRule {
  min: number | null;
  max: number | null;
  integer: boolean;
}

/** The rule for a trait: Python's min/max where it sent them, else `base`'s. */
function specRule(ctx: Ctx, trait: string, base: NumberRule): NumberRule {
  const spec = ctx.spec(trait);
  return { min: spec?.min ?? base.min, max: spec?.max ?? base.max, integer: base.integer };
}

function allowed({ min, max, integer }: NumberRule): string {
  const what = integer ? "a whole number" : "a number";
  if (min !== null && max !== null) return `${what} from ${min} to ${max}`;
  if (min !== null) return `${what} of at least ${min}`;
  return max !== null ? `${what} of at most ${max}` : what;
}

const breaks = (v: number, { min, max, integer }: NumberRule): boolean =>
  !Number.isFinite(v) ||
  (min !== null && v < min) ||
  (max !== null && v > max) ||
  (integer && !Number.isInteger(v));

/**
 * A number box (or slider) saved on change; a value outside the rule (Python's min/max for
 * `key`, else `base`'s) is refused with the reason. `fallback` is shown when the trait holds
 * no number (null: the box stays empty).
 */
export function bindNumber(
  ctx: Ctx,
  input: HTMLInputElement,
  key: NumKey,
  label: string,
  base: NumberRule,
  fallback: number | null = null,
): void {
  const rule = specRule(ctx, key, base);
  if (rule.min !== null) input.min = String(rule.min);
  if (rule.max !== null) input.max = String(rule.max);
  const commit = (): void => {
    const raw = input.value.trim();
    if (raw === "" || breaks(Number(raw), rule)) {
      ctx.say(`${label}: “${raw}” is not allowed; expected ${allowed(rule)}`, key);
      return;
    }
    ctx.unsay(key);
    ctx.save(key, Number(raw));
  };
  ctx.on(input, "change", commit);
  follow(ctx, input, key, () => {
    const v = ctx.get(key);
    if (typeof v === "number" && Number.isFinite(v)) return String(v);
    return fallback === null ? "" : String(fallback);
  });
}

export function bindCheckbox(ctx: Ctx, input: HTMLInputElement, key: BoolKey): void {
  ctx.on(input, "change", () => ctx.save(key, input.checked));
  ctx.watch([key], () => {
    input.checked = ctx.get(key) === true;
  });
}

/** Text saved while typing (debounced) and at once on change/blur; `flush` saves now. */
export function bindText(
  ctx: Ctx,
  input: HTMLInputElement | HTMLTextAreaElement,
  key: TextKey,
): () => void {
  let stop = (): void => {};
  const flush = (): void => {
    stop();
    const v = input.value;
    // Python checks the text (and says what is wrong in `plan` and `problems`).
    if (str(ctx.get(key)) !== v) ctx.save(key, v);
  };
  ctx.on(input, "input", () => {
    stop();
    stop = ctx.scope.timeout(flush, 400);
  });
  ctx.on(input, "change", flush);
  follow(ctx, input, key, () => str(ctx.get(key)));
  return flush;
}

/** A checkbox before its label text; returns [wrapper, checkbox]. */
export function checkbox(text: string): [HTMLElement, HTMLInputElement] {
  const box = h("input", { type: "checkbox" });
  const [wrap] = labelled(text, box, "kw-check");
  wrap.prepend(box);
  return [wrap, box];
}
