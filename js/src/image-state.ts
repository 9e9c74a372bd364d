// What the parts of the image list share: Python's list (`images`), its limits from
// `field_specs`, and the DOM they all reach into.
import type { Ctx } from "./context";
import type { ImageItem } from "./protocol";

export interface ImageDom {
  el: HTMLElement;
  /** The <ol> of thumbnails, inside the drop zone. */
  list: HTMLOListElement;
  zone: HTMLElement;
  empty: HTMLElement;
  count: HTMLElement;
  urlBox: HTMLInputElement;
  addUrl: HTMLButtonElement;
  pickFiles: HTMLButtonElement;
  fileInput: HTMLInputElement;
  /** The "full" note; its id describes the disabled add buttons. */
  full: HTMLElement;
}

export class ImageState {
  /** The list as Python last sent it. */
  items: ImageItem[];
  /** At most this many images (null: Python did not say; it refuses more itself). */
  readonly max: number | null;
  /** Largest file the upload accepts (null: Python did not say). */
  readonly maxBytes: number | null;

  constructor(ctx: Ctx, items: ImageItem[] = []) {
    this.items = items;
    this.max = ctx.specs.limits.maxImages;
    this.maxBytes = ctx.specs.limits.maxUploadBytes;
  }

  isFull(): boolean {
    return this.max !== null && this.items.length >= this.max;
  }

  /** How many more fit (Infinity without a limit). */
  room(): number {
    return this.max === null ? Infinity : Math.max(0, this.max - this.items.length);
  }

  /** The reason shown whenever the list has no room. */
  fullReason(): string {
    return `At most ${this.max ?? "so many"} images: remove one first`;
  }

  index(id: string): number {
    return this.items.findIndex((img) => img.id === id);
  }
}

/** "20 MB" for a byte count. */
export const megabytes = (bytes: number): string => `${Math.round(bytes / (1024 * 1024))} MB`;
