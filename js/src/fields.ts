// Two-way bindings between form controls and the traits the user edits. A value that the
// front end can already tell is wrong is refused with a visible reason and not saved.
import type { Ctx } from "./context";
import { h, uid } from "./dom";
import { type Traits, num, str } from "./protocol";

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

export function bindNumber(
  ctx: Ctx,
  input: HTMLInputElement,
  key: NumKey,
  label: string,
  opts: { min: number; max: number; integer: boolean; fallback: number },
): void {
  const { min, max, integer, fallback } = opts;
  Object.assign(input, { min: String(min), max: String(max) });
  const commit = (): void => {
    const raw = input.value.trim();
    const v = Number(raw);
    if (raw === "" || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
      ctx.say(
        `${label}: “${raw}” is not allowed; expected ${integer ? "a whole number" : "a number"} from ${min} to ${max}`,
        key,
      );
      return;
    }
    ctx.unsay(key);
    ctx.save(key, v);
  };
  ctx.on(input, "change", commit);
  follow(ctx, input, key, () => String(num(ctx.get(key), fallback)));
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
  check?: (value: string) => string,
): () => void {
  let stop = (): void => {};
  const flush = (): void => {
    stop();
    const v = input.value;
    const problem = check?.(v) ?? "";
    if (problem) ctx.say(problem, key);
    else ctx.unsay(key);
    if (str(ctx.get(key)) !== v) ctx.save(key, v); // Python is the authority: it checks again
  };
  ctx.on(input, "input", () => {
    stop();
    stop = ctx.scope.timeout(flush, 400);
  });
  ctx.on(input, "change", flush);
  follow(ctx, input, key, () => str(ctx.get(key)));
  return flush;
}
