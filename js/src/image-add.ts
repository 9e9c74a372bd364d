// Adding images: by URL (button or Enter), from the file picker, and the files of a drop or
// a paste. What the front end can already tell is wrong (not http(s), not an image, too
// large, no room) is refused with the reason; Python checks everything again.
import type { Ctx } from "./context";
import { type ImageDom, type ImageState, megabytes } from "./image-state";
import { isHttpUrl } from "./protocol";

export interface Adders {
  submitUrl(): void;
  addFiles(files: File[]): Promise<void>;
}

const fileName = (f: File, i: number): string =>
  f.name || `pasted-${i + 1}.${(f.type.split("/")[1] ?? "png").replace(/\W.*$/, "")}`;

function urlAdder(ctx: Ctx, state: ImageState, urlBox: HTMLInputElement): () => void {
  return () => {
    const url = urlBox.value.trim();
    if (state.isFull()) return ctx.say(state.fullReason(), "url");
    if (!url) return ctx.say("Image URL: enter an http(s) URL first", "url");
    if (!isHttpUrl(url)) {
      return ctx.say(
        `Image URL: only http:// and https:// URLs can be added, not “${url.slice(0, 80)}”`,
        "url",
      );
    }
    ctx.send({ type: "add_url", url });
    urlBox.value = "";
  };
}

function fileAdder(ctx: Ctx, state: ImageState): (files: File[]) => Promise<void> {
  return async (files) => {
    if (!files.length) return;
    const reasons: string[] = [];
    const ok: File[] = [];
    for (const f of files) {
      if (f.type && !f.type.startsWith("image/")) reasons.push(`${f.name} is not an image (${f.type})`);
      else if (state.maxBytes !== null && f.size > state.maxBytes)
        reasons.push(`${f.name} is larger than ${megabytes(state.maxBytes)}`);
      else ok.push(f);
    }
    const skipped = ok.splice(state.room());
    if (skipped.length)
      reasons.push(`${state.fullReason()} (not added: ${skipped.map((f) => f.name).join(", ")})`);
    if (ok.length) {
      const buffers = await Promise.all(ok.map((f) => f.arrayBuffer()));
      if (ctx.scope.disposed) return;
      ctx.send({ type: "add_files", names: ok.map(fileName) }, buffers);
    }
    if (reasons.length) ctx.say(reasons.join("; "), "images");
  };
}

export function adders(ctx: Ctx, state: ImageState, dom: ImageDom): Adders {
  const { urlBox, addUrl, pickFiles, fileInput } = dom;
  const submitUrl = urlAdder(ctx, state, urlBox);
  const addFiles = fileAdder(ctx, state);
  ctx.on(addUrl, "click", submitUrl);
  ctx.on<KeyboardEvent>(urlBox, "keydown", (ev) => {
    if (ev.key === "Enter" && !ev.isComposing && !ev.ctrlKey && !ev.metaKey) {
      ev.preventDefault();
      submitUrl();
    }
  });
  ctx.on(pickFiles, "click", () => {
    if (state.isFull()) return ctx.say(state.fullReason(), "images");
    fileInput.click();
    return undefined;
  });
  ctx.on(fileInput, "change", async () => {
    const files = Array.from(fileInput.files ?? []);
    fileInput.value = "";
    await addFiles(files);
  });
  return { submitUrl, addFiles };
}
