// In-widget viewer: full size (lightbox), before/after comparison, download and copy.
// Full-size bytes never live in traits: we ask Python (`fetch_full`, `fetch_input`,
// `copy_code`) and wait at most 15 s for its `full` / `code` answer.
import { type Ctx, flash } from "./context";
import { button, h, uid } from "./dom";
import type { CodeAnswer, FullAnswer } from "./protocol";
import { isHttpUrl } from "./protocol";

interface Image {
  url: string;
  name: string;
}

export class Viewer {
  readonly dialog: HTMLDialogElement;
  private readonly title: HTMLElement;
  private readonly body: HTMLElement;
  private readonly close: HTMLButtonElement;
  private urls: string[] = [];
  private returnTo: HTMLElement | null = null;
  private token = 0;

  constructor(private readonly ctx: Ctx) {
    const titleId = uid("dlg");
    this.title = h("h3", { id: titleId, class: "kw-h" });
    this.close = button("Close", { class: "kw-close" });
    this.body = h("div", { class: "kw-dlgbody" });
    this.dialog = h(
      "dialog",
      { class: "kw-dialog", "aria-labelledby": titleId },
      h("div", { class: "kw-dlghead" }, this.title, this.close),
      this.body,
    );
    ctx.on(this.close, "click", () => this.dialog.close());
    // A click on the backdrop (the dialog element itself, outside its content) closes it.
    ctx.on<MouseEvent>(this.dialog, "click", (ev) => {
      if (ev.target === this.dialog) this.dialog.close();
    });
    ctx.on(this.dialog, "close", () => this.cleanup());
    ctx.scope.add(() => {
      if (this.dialog.open) this.dialog.close();
      this.cleanup();
    });
  }

  private cleanup(): void {
    this.token += 1;
    for (const u of this.urls.splice(0)) this.ctx.scope.revoke(u);
    this.body.replaceChildren();
    const back = this.returnTo;
    this.returnTo = null;
    if (back?.isConnected) back.focus();
  }

  /** Open with a loading note; returns a token that `fill` checks (the user may have closed it). */
  private openLoading(title: string): number {
    if (this.dialog.open) {
      // Reuse the open dialog (closing it would fire "close" later and wipe the new content).
      for (const u of this.urls.splice(0)) this.ctx.scope.revoke(u);
    } else {
      const active = document.activeElement;
      this.returnTo = active instanceof HTMLElement ? active : null;
      this.dialog.showModal();
    }
    this.token += 1;
    this.title.textContent = title;
    this.body.replaceChildren(h("p", { class: "kw-hint" }, "Loading…"));
    this.close.focus();
    return this.token;
  }

  /** Show `nodes` if the dialog is still the one opened with `token`; adopt or revoke `keep`. */
  private fill(token: number, keep: string[], ...nodes: Node[]): boolean {
    const current = token === this.token && this.dialog.open;
    if (current) {
      this.urls.push(...keep);
      this.body.replaceChildren(...nodes);
    } else {
      for (const u of keep) this.ctx.scope.revoke(u);
    }
    return current;
  }

  private failed(token: number, keep: string[], err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.fill(token, keep, h("p", { class: "kw-error" }, message));
    this.ctx.say(message);
  }

  /** Turn a `full` answer into a URL (an object URL for bytes, kept in `keep`). */
  private image(answer: FullAnswer, buffers: DataView[], keep: string[]): Image {
    if (answer.error) throw new Error(answer.error);
    const name = answer.name || "image";
    const data = buffers[0];
    if (data && data.byteLength) {
      const blob = new Blob([data as DataView<ArrayBuffer>], { type: answer.mime || "image/png" });
      const url = this.ctx.scope.objectUrl(blob);
      keep.push(url);
      return { url, name };
    }
    if (answer.url && (isHttpUrl(answer.url) || answer.url.startsWith("data:image/")))
      return { url: answer.url, name };
    throw new Error(`Python sent no image for ${name}`);
  }

  private async fetchOutput(key: string, label: string, keep: string[]): Promise<Image> {
    const { answer, buffers } = await this.ctx.ask<FullAnswer>(
      { type: "fetch_full", key },
      `the full-size ${label}`,
    );
    return this.image(answer, buffers, keep);
  }

  async openFull(key: string, label: string): Promise<void> {
    const token = this.openLoading(`${label}: full size`);
    const keep: string[] = [];
    try {
      const img = await this.fetchOutput(key, label, keep);
      const link = h(
        "a",
        { href: img.url, download: img.name, class: "kw-link", target: "_blank", rel: "noopener" },
        `Download ${img.name}`,
      );
      this.fill(
        token,
        keep,
        h("img", { src: img.url, alt: `${label}, full size`, class: "kw-full-img" }),
        h("p", {}, link),
      );
    } catch (err) {
      this.failed(token, keep, err);
    }
  }

  async openCompare(key: string, label: string): Promise<void> {
    const token = this.openLoading(`${label} compared with the first input`);
    const keep: string[] = [];
    try {
      const [after, before] = await Promise.all([
        this.fetchOutput(key, label, keep),
        this.ctx
          .ask<FullAnswer>({ type: "fetch_input", index: 0 }, "the first input image")
          .then(({ answer, buffers }) => this.image(answer, buffers, keep)),
      ]);
      // Different shapes (a 3:4 input, a 16:9 result): side by side, each at its own shape,
      // never one letterboxed inside the other's frame.
      const [ra, rb] = await Promise.all([shapeOf(after.url), shapeOf(before.url)]);
      if (ra && rb && Math.abs(ra / rb - 1) > 0.02) {
        const fig = (url: string, text: string): HTMLElement =>
          h("figure", { class: "kw-pair-fig" }, h("img", { src: url, alt: text, class: "kw-pair-img" }), h("figcaption", {}, text));
        this.fill(token, keep, h("div", { class: "kw-pair" }, fig(before.url, "Before: the first input"), fig(after.url, `After: ${label}`)));
        return;
      }
      const slider = h("input", {
        type: "range",
        min: 0,
        max: 100,
        step: 1,
        value: 50,
        "aria-label": "Before/after position",
        class: "kw-grow",
      });
      const top = h("img", { src: before.url, alt: "Before: the first input", class: "kw-before" });
      const divider = h("span", { class: "kw-divider", "aria-hidden": "true" });
      const stage = h(
        "div",
        { class: "kw-stage" },
        h("img", { src: after.url, alt: `After: ${label}`, class: "kw-after" }),
        top,
        divider,
        h("span", { class: "kw-tag kw-tag-l", "aria-hidden": "true" }, "Before"),
        h("span", { class: "kw-tag kw-tag-r", "aria-hidden": "true" }, "After"),
      );
      const place = (): void => {
        top.style.clipPath = `inset(0 ${100 - Number(slider.value)}% 0 0)`;
        divider.style.left = `${slider.value}%`;
        slider.setAttribute("aria-valuetext", `${slider.value}% before`);
      };
      slider.addEventListener("input", this.ctx.guard(place)); // goes away with the slider
      place();
      if (
        this.fill(
          token,
          keep,
          stage,
          h(
            "div",
            { class: "kw-row" },
            h("span", { "aria-hidden": "true" }, "Before"),
            slider,
            h("span", { "aria-hidden": "true" }, "After"),
          ),
        )
      ) {
        slider.focus();
      }
    } catch (err) {
      this.failed(token, keep, err);
    }
  }

  async download(key: string, label: string, note: HTMLElement): Promise<void> {
    note.textContent = "Preparing…";
    const keep: string[] = [];
    try {
      const img = await this.fetchOutput(key, label, keep);
      const a = h("a", {
        href: img.url,
        download: img.name,
        target: "_blank",
        rel: "noopener",
        hidden: true,
      });
      this.ctx.root.append(a);
      a.click();
      a.remove();
      flash(this.ctx, note, `Downloading ${img.name}`);
    } catch (err) {
      note.textContent = "";
      this.ctx.say(err instanceof Error ? err.message : String(err));
    } finally {
      // The browser has started reading the object URL; give it time before revoking.
      this.ctx.scope.timeout(() => keep.forEach((u) => this.ctx.scope.revoke(u)), 60_000);
    }
  }

  async copy(key: string, label: string, note: HTMLElement): Promise<void> {
    note.textContent = "Preparing…";
    try {
      const { answer } = await this.ctx.ask<CodeAnswer>(
        { type: "copy_code", key },
        `the Python call for ${label}`,
      );
      if (answer.error) throw new Error(answer.error);
      const code = answer.code ?? "";
      if (await writeClipboard(code, this.ctx.root)) {
        flash(this.ctx, note, "Copied");
        return;
      }
      // Neither clipboard route worked: show the code selected, for Ctrl/Cmd+C.
      note.textContent = "";
      const token = this.openLoading(`Python call for ${label}`);
      const area = h(
        "textarea",
        { readonly: true, rows: 8, class: "kw-code", "aria-label": "Python call" },
        code,
      );
      if (
        this.fill(
          token,
          [],
          h("p", { class: "kw-hint" }, "The browser refused the clipboard: press Ctrl+C (⌘C) to copy."),
          area,
        )
      ) {
        area.focus();
        area.select();
      }
    } catch (err) {
      note.textContent = "";
      this.ctx.say(err instanceof Error ? err.message : String(err));
    }
  }
}

async function writeClipboard(text: string, host: HTMLElement): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* fall through to the textarea route */
  }
  const active = document.activeElement;
  const area = h("textarea", { readonly: true, class: "kw-offscreen", "aria-hidden": "true", tabindex: -1 });
  area.value = text;
  host.append(area);
  try {
    area.select();
    return document.execCommand("copy");
  } catch {
    return false;
  } finally {
    area.remove();
    if (active instanceof HTMLElement) active.focus();
  }
}

/** An image's width / height once decoded (0 when it cannot be decoded). */
async function shapeOf(url: string): Promise<number> {
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    return img.naturalHeight ? img.naturalWidth / img.naturalHeight : 0;
  } catch {
    return 0;
  }
}
