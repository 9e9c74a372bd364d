// The next click as Python plans it (`plan`): the cost line, Generate's label, and the offer
// to pay for new images when every image would come from the store. No counting here: a
// missing or malformed plan shows nothing rather than a wrong number.
import type { Ctx } from "./context";
import { button, h, setText } from "./dom";
import { type Plan, num, readPlan } from "./protocol";

export const money = (v: number): string => `$${v.toFixed(2)}`;
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;
const total = (plan: Plan): number => plan.images + plan.fromStore;

/** True when the click would make nothing new: every image is already in the store. */
export const allFromStore = (plan: Plan): boolean => plan.images === 0 && plan.fromStore > 0;

/**
 * The cost line: Python's words for the plan ("3 new images, $0.12", "2 images from the
 * store, $0 …"); from its numbers only when it sent none.
 */
export function costText(plan: Plan): string {
  if (plan.text || total(plan) === 0) return plan.text;
  if (allFromStore(plan)) return `${plural(plan.fromStore, "image")} from the store, $0`;
  const stored = plan.fromStore ? `, ${plan.fromStore} from the store ($0)` : "";
  return `${plural(plan.images, "new image")}, ${money(plan.costUsd)}${stored}`;
}

export function generateLabel(plan: Plan | null): string {
  return plan && total(plan) ? `Generate ${plural(total(plan), "image")}` : "Generate";
}

/** The price of one new image: Python's limits, else the widget's `price_per_image`. */
function price(ctx: Ctx): number | null {
  const p = ctx.specs.limits.pricePerImageUsd ?? num(ctx.get("price_per_image"), -1);
  return p >= 0 ? p : null;
}

export function costLine(ctx: Ctx): HTMLElement {
  const el = h("p", { class: "kw-cost" });
  ctx.watch(["plan", "simulated", "balance"], () => {
    const plan = readPlan(ctx.get("plan"));
    const balance = ctx.get("balance");
    const simulated = ctx.get("simulated") === true;
    const over = plan !== null && !simulated && typeof balance === "number" && plan.costUsd > balance;
    const text = plan ? costText(plan) : "";
    const parts = text ? [text] : [];
    if (text && typeof balance === "number" && Number.isFinite(balance)) {
      parts.push(` · balance ${money(balance)}`);
      if (over) parts.push(" — more than the balance");
    }
    setText(el, parts.join(""));
    el.hidden = parts.length === 0;
    el.classList.toggle("kw-over", over);
  });
  return el;
}

/** "Make new images ($X)": shown only when the plan takes every image from the store. */
export function freshButton(ctx: Ctx, run: (fresh: boolean) => void): HTMLButtonElement {
  const fresh = button("Make new images", {
    title: "The store has these images: pay for new ones with the same settings instead",
  });
  ctx.on(fresh, "click", () => run(true));
  ctx.watch(["plan", "price_per_image"], () => {
    const plan = readPlan(ctx.get("plan"));
    const each = price(ctx);
    const offer = plan !== null && allFromStore(plan);
    fresh.hidden = !offer;
    const cost = offer && each !== null ? ` (${money(plan.fromStore * each)})` : "";
    setText(fresh, `Make new images${cost}`);
  });
  return fresh;
}
