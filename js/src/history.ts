// The edit history ("Use as input" steps), oldest first, as a collapsible strip.
import type { Ctx } from "./context";
import { button, h, setText, uid } from "./dom";
import { readHistory } from "./protocol";

export function history(ctx: Ctx): HTMLElement {
  const stripId = uid("hist");
  const toggle = button("Show history", {
    "aria-expanded": "false",
    "aria-controls": stripId,
    class: "kw-linkbtn",
  });
  const count = h("span", { class: "kw-hint" });
  const strip = h("ol", { class: "kw-history", id: stripId, "aria-label": "Edit history", hidden: true });
  const el = h("section", { class: "kw-hist" }, h("div", { class: "kw-row" }, toggle, count), strip);
  let open = false;

  ctx.on(toggle, "click", () => {
    open = !open;
    strip.hidden = !open;
    toggle.textContent = open ? "Hide history" : "Show history";
    toggle.setAttribute("aria-expanded", String(open));
  });

  ctx.watch(["history"], () => {
    const steps = readHistory(ctx.get("history"));
    el.hidden = steps.length === 0;
    setText(count, `${steps.length} step${steps.length === 1 ? "" : "s"}`);
    // Parents by step ("step 1 · seed 7"), not by output key; an input picture keeps its name.
    const byKey = new Map(steps.map((s) => [s.key, s.label || s.key]));
    strip.replaceChildren(
      ...steps.map((s, i) => {
        const seed = s.seed === null ? "" : `seed ${s.seed}`;
        const from = s.parents.map((p) => byKey.get(p) ?? p).join(", ");
        return h(
          "li",
          {
            class: "kw-step",
            title: [s.prompt, seed, from ? `from ${from}` : ""]
              .filter(Boolean)
              .join("\n"),
          },
          i > 0 ? h("span", { class: "kw-arrow", "aria-hidden": "true" }, "→") : null,
          h(
            "figure",
            {},
            s.thumb
              ? h("img", { src: s.thumb, alt: "", draggable: "false" })
              : h("span", { class: "kw-nothumb" }),
            h(
              "figcaption",
              {},
              h("strong", {}, s.label || s.key),
              s.prompt ? h("span", { class: "kw-prompt" }, s.prompt) : null,
              seed && !s.label.includes(seed) ? h("span", { class: "kw-hint" }, seed) : null,
              from ? h("span", { class: "kw-hint kw-from" }, `from ${from}`) : null,
            ),
          ),
        );
      }),
    );
  });
  return el;
}
