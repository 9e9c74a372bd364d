// Seed controls: base seed, random, lock, "compare N seeds", explicit seed list. The limits
// are Python's (`field_specs`); the seed list is Python's to parse: what it makes of it shows
// in the cost line (`plan`).
import type { Ctx } from "./context";
import { button, h, setText } from "./dom";
import { bindCheckbox, bindNumber, bindText, checkbox, labelled } from "./fields";
import { randomInt, str } from "./protocol";

const numberBox = (cls: string): HTMLInputElement =>
  h("input", { type: "number", step: 1, inputmode: "numeric", class: cls });

/** Seed, "Random seed" and "Lock seed", with the hint about an unlocked seed. */
function seedRow(ctx: Ctx): HTMLElement[] {
  const label = ctx.label("seed");
  const [seedWrap, seed] = labelled(label, numberBox("kw-seed"));
  const spec = ctx.spec("seed");
  const max = spec?.max ?? ctx.specs.limits.seedMax;
  const random = button("Random seed", {
    title: max === null ? null : `Pick a random seed from 0 to ${max}`,
  });
  // Without Python's range there is no honest random pick: Python draws one at Generate.
  random.disabled = max === null;
  const [lockWrap, lock] = checkbox("Lock seed");
  const lockHint = h("p", { class: "kw-hint kw-single-only" });

  bindNumber(ctx, seed, "seed", label, { min: null, max: ctx.specs.limits.seedMax, integer: true });
  bindCheckbox(ctx, lock, "seed_locked");
  ctx.field("seed", label, seed);
  ctx.on(random, "click", () => {
    if (max === null) return;
    const s = randomInt(max);
    seed.value = String(s);
    ctx.unsay("seed");
    ctx.save("seed", s);
  });
  ctx.watch(["seed_locked"], () => {
    const locked = ctx.get("seed_locked") === true;
    setText(lockHint, locked ? "" : "Unlocked: a new random seed is drawn at each Generate.");
  });
  return [h("div", { class: "kw-row" }, seedWrap, random, lockWrap), lockHint];
}

/** "Compare seeds" and "Seed list" (single mode); returns the row, its hint and a flush. */
function compareRow(ctx: Ctx): { els: HTMLElement[]; flush: () => void } {
  const compareLabel = ctx.label("compare", "Compare seeds");
  const [compareWrap, compare] = labelled(compareLabel, numberBox("kw-small"));
  const listLabel = ctx.label("seed_list", "Seed list");
  const [listWrap, list] = labelled(
    listLabel,
    h("input", {
      type: "text",
      placeholder: "e.g. 1, 7, 42",
      autocomplete: "off",
      spellcheck: "false",
      class: "kw-grow",
    }),
  );
  const listHint = h("p", { class: "kw-hint kw-single-only" });
  listWrap.classList.add("kw-grow");

  // At least one seed is compared; the most is Python's.
  const rule = { min: 1, max: ctx.specs.limits.compareMax, integer: true };
  bindNumber(ctx, compare, "compare", compareLabel, rule, 1);
  const flush = bindText(ctx, list, "seed_list");
  ctx.field("compare", compareLabel, compare);
  ctx.field("seed_list", listLabel, list);
  ctx.watch(["seed_list"], () => {
    const wins = str(ctx.get("seed_list")).trim() !== "";
    setText(listHint, wins ? `The seed list is used instead of ${compareLabel}.` : "");
    compareWrap.classList.toggle("kw-muted", wins);
  });
  // Sweep mode has its own seeds axis; the Seed above is its value when that is empty.
  return { els: [h("div", { class: "kw-row kw-single-only" }, compareWrap, listWrap), listHint], flush };
}

export function seedControls(ctx: Ctx): { el: HTMLElement; flush: () => void } {
  const compare = compareRow(ctx);
  const el = h(
    "fieldset",
    { class: "kw-group" },
    h("legend", { class: "kw-h" }, "Seeds"),
    ...seedRow(ctx),
    ...compare.els,
  );
  return { el, flush: compare.flush };
}
