/**
 * WCAG 2.1 AA checks a page makes on itself in a real browser (playwright-core): the contrast of
 * every visible text against its effective background (1.4.3), an accessible name for every
 * control (4.1.2), and no horizontal scrolling of the page (1.4.10). Computed in the page from
 * its computed styles: what the browser renders, not what the stylesheet intends.
 */
import type { Page } from 'playwright-core';

export interface ContrastFailure {
  /** a short path to the element (tag#id.class …) */
  where: string;
  text: string;
  color: string;
  background: string;
  fontPx: number;
  weight: number;
  ratio: number;
  needed: number;
}

export interface PageAudit {
  /** visible text elements checked (the count shows the check saw the page) */
  checked: number;
  contrast: ContrastFailure[];
  /** controls with no accessible name (their outerHTML, cut) */
  unnamed: string[];
  scrollWidth: number;
  innerWidth: number;
  /**
   * visible elements reaching past the window's left or right edge, outside any box that scrolls
   * or clips them (a fixed or top-layer one, a dialog, does not widen the page: scrollWidth misses it)
   */
  offscreen: string[];
}

/** Runs the checks on what the page shows now. */
export function auditPage(page: Page): Promise<PageAudit> {
  return page.evaluate(() => {
    type Rgba = [number, number, number, number];
    const parse = (c: string): Rgba => {
      const m = /rgba?\(([^)]+)\)/.exec(c);
      if (!m) return [0, 0, 0, 0];
      const p = m[1]!.split(/[\s,/]+/).filter(Boolean);
      const a = p[3] === undefined ? 1 : p[3].endsWith('%') ? parseFloat(p[3]) / 100 : parseFloat(p[3]);
      return [parseFloat(p[0]!), parseFloat(p[1]!), parseFloat(p[2]!), a];
    };
    /** `top` drawn over the opaque `under` */
    const over = (top: Rgba, under: Rgba): Rgba => {
      const a = top[3];
      return [0, 1, 2].map((i) => top[i]! * a + under[i]! * (1 - a)).concat(1) as Rgba;
    };
    const lum = (c: Rgba) => {
      const ch = c.slice(0, 3).map((v) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * ch[0]! + 0.7152 * ch[1]! + 0.0722 * ch[2]!;
    };
    const ratioOf = (a: Rgba, b: Rgba) => {
      const [l1, l2] = [lum(a), lum(b)].sort((x, y) => y - x);
      return (l1! + 0.05) / (l2! + 0.05);
    };
    /** the background under `el`: its and its ancestors' colours, composited from the first opaque one */
    const backgroundOf = (el: Element): Rgba => {
      const layers: Rgba[] = [];
      for (let e: Element | null = el; e; e = e.parentElement) {
        const bg = parse(getComputedStyle(e).backgroundColor);
        if (bg[3] > 0) layers.push(bg);
        if (bg[3] >= 1) break;
      }
      let out: Rgba = [255, 255, 255, 1]; // the canvas
      for (const l of layers.reverse()) out = over(l, out);
      return out;
    };
    /** the product of the opacities of `el` and its ancestors: text fades with them */
    const opacityOf = (el: Element) => {
      let o = 1;
      for (let e: Element | null = el; e; e = e.parentElement) o *= parseFloat(getComputedStyle(e).opacity);
      return o;
    };
    const where = (el: Element) => {
      const parts: string[] = [];
      for (let e: Element | null = el; e && parts.length < 4; e = e.parentElement) {
        const cls =
          typeof e.className === 'string' && e.className ? `.${e.className.trim().split(/\s+/).join('.')}` : '';
        parts.unshift(`${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${cls}`);
        if (e.id) break;
      }
      return parts.join(' > ');
    };
    const visible = (el: Element) =>
      el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true }) && el.getClientRects().length > 0;

    const contrast: ContrastFailure[] = [];
    let checked = 0;
    const check = (el: Element, text: string, colour: string) => {
      const cs = getComputedStyle(el);
      const fontPx = parseFloat(cs.fontSize);
      const weight = parseInt(cs.fontWeight, 10) || 400;
      const bg = backgroundOf(el);
      const fg = parse(colour);
      fg[3] *= opacityOf(el);
      const ratio = ratioOf(over(fg, bg), bg);
      const large = fontPx >= 24 || (fontPx >= 18.66 && weight >= 700);
      const needed = large ? 3 : 4.5;
      checked++;
      if (ratio + 1e-6 < needed)
        contrast.push({
          where: where(el),
          text: text.trim().slice(0, 40),
          color: colour,
          background: `rgb(${bg.slice(0, 3).map(Math.round).join(', ')})`,
          fontPx,
          weight,
          ratio: Math.round(ratio * 100) / 100,
          needed,
        });
    };
    for (const el of document.querySelectorAll('body *')) {
      if (!visible(el)) continue;
      const own = [...el.childNodes]
        .filter((n) => n.nodeType === Node.TEXT_NODE)
        .map((n) => n.textContent ?? '')
        .join('');
      if (own.trim()) check(el, own, getComputedStyle(el).color);
      if (el instanceof HTMLInputElement && el.type !== 'hidden') {
        if (el.value) check(el, el.value, getComputedStyle(el).color);
        else if (el.placeholder) check(el, el.placeholder, getComputedStyle(el, '::placeholder').color);
      }
      if (el instanceof HTMLSelectElement && el.selectedOptions[0]?.textContent?.trim())
        check(el, el.selectedOptions[0].textContent, getComputedStyle(el).color);
    }

    const unnamed = [...document.querySelectorAll('button, input:not([type=hidden]), select, textarea, a[href]')]
      .filter((e) => {
        const name =
          e.getAttribute('aria-label') ||
          (e.getAttribute('aria-labelledby') ?? '')
            .split(/\s+/)
            .map((id) => document.getElementById(id)?.textContent ?? '')
            .join('') ||
          [...((e as HTMLInputElement).labels ?? [])].map((l) => l.textContent).join('') ||
          (e.tagName === 'BUTTON' || e.tagName === 'A' ? e.textContent : '');
        return !name?.trim();
      })
      .map((e) => e.outerHTML.slice(0, 120));

    const clipped = (el: Element) => {
      for (let e = el.parentElement; e && e !== document.body; e = e.parentElement)
        if (getComputedStyle(e).overflowX !== 'visible') return true;
      return false;
    };
    const offscreen = [...document.querySelectorAll('body *')]
      .filter((e) => visible(e) && !clipped(e))
      .filter((e) => {
        const r = e.getBoundingClientRect();
        return r.width > 0 && (r.left < -0.5 || r.right > window.innerWidth + 0.5);
      })
      .map(
        (e) =>
          `${where(e)} (${Math.round(e.getBoundingClientRect().left)}..${Math.round(e.getBoundingClientRect().right)} px)`,
      );

    return {
      offscreen,
      checked,
      contrast,
      unnamed,
      scrollWidth: document.scrollingElement!.scrollWidth,
      innerWidth: window.innerWidth,
    };
  });
}
