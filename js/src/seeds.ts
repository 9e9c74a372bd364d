// Seed controls: base seed, random, lock, "compare N seeds", explicit seed list.
import type { Ctx } from "./context";
import { button, h, setText } from "./dom";
import { bindCheckbox, bindNumber, bindText, labelled } from "./fields";
import { COMPARE_MAX, COMPARE_MIN, SEED_MAX, parseSeedList, randomSeed, str } from "./protocol";

export function seedControls(ctx: Ctx): { el: HTMLElement; flush: () => void } {
  const [seedWrap, seed] = labelled(
    "Seed",
    h("input", { type: "number", step: 1, inputmode: "numeric", class: "kw-seed" }),
  );
  const random = button("Random seed", { title: `Pick a random seed from 0 to ${SEED_MAX}` });
  const lock = h("input", { type: "checkbox" });
  const [lockWrap] = labelled("Lock seed", lock, "kw-check");
  lockWrap.prepend(lock); // checkbox before its label text
  const lockHint = h("p", { class: "kw-hint kw-single-only" });
  const [compareWrap, compare] = labelled(
    "Compare seeds",
    h("input", { type: "number", step: 1, inputmode: "numeric", class: "kw-small" }),
  );
  const [listWrap, list] = labelled(
    "Seed list",
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

  bindNumber(ctx, seed, "seed", "Seed", { min: 0, max: SEED_MAX, integer: true, fallback: 0 });
  bindCheckbox(ctx, lock, "seed_locked");
  bindNumber(ctx, compare, "compare", "Compare seeds", {
    min: COMPARE_MIN,
    max: COMPARE_MAX,
    integer: true,
    fallback: 1,
  });
  const flush = bindText(ctx, list, "seed_list", (v) => parseSeedList(v).error);
  ctx.field("seed", seed);
  ctx.field("compare", compare);
  ctx.field("seed_list", list);

  ctx.on(random, "click", () => {
    const s = randomSeed();
    seed.value = String(s);
    ctx.unsay("seed");
    ctx.save("seed", s);
  });
  ctx.watch(["seed_locked"], () => {
    setText(
      lockHint,
      ctx.get("seed_locked") === true ? "" : "Unlocked: a new random seed is drawn at each Generate.",
    );
  });
  ctx.watch(["seed_list"], () => {
    const wins = str(ctx.get("seed_list")).trim() !== "";
    setText(listHint, wins ? "The seed list is used instead of Compare seeds." : "");
    compareWrap.classList.toggle("kw-muted", wins);
  });

  const el = h(
    "fieldset",
    { class: "kw-group" },
    h("legend", { class: "kw-h" }, "Seeds"),
    h("div", { class: "kw-row" }, seedWrap, random, lockWrap),
    lockHint,
    // Sweep mode has its own seeds axis; the Seed above is its value when that is empty.
    h("div", { class: "kw-row kw-single-only" }, compareWrap, listWrap),
    listHint,
  );
  return { el, flush };
}
