// Drives sf-mcp's MCP Apps views in Debian's chromium (playwright-core, no downloaded browser), inside the test
// host of apps/host.js (the ext-apps AppBridge and the MCP TypeScript client, bundled here by esbuild).
//
//   node apps.mjs <server-base-url> <bearer-token> <screenshot-dir>
//
// The host page is served by the browser itself at <server>/__test-host/ (same origin as /mcp, like a web
// chat host's page talking to its backend). Reads one JSON command per line on stdin and answers one JSON
// line each: {"ok": value} or {"error": message}. Commands act on the view's frame:
//   open {tool, args, theme, width, hold}   release {}   theme {theme}   width {width}
//   wait {selector, text?, gone?, timeout?}   click {selector}   fill {selector, value}
//   text {selector}   texts {selector}   count {selector}   attr(s) {selector, name}   layout {}   shot {name}
//   report {}
import { chromium } from "playwright-core";
import { build } from "esbuild";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import path from "node:path";

const [base, token, shots] = process.argv.slice(2);
const here = path.dirname(fileURLToPath(import.meta.url));
const send = (value) => process.stdout.write(JSON.stringify(value) + "\n");

const bundled = await build({
  entryPoints: [path.join(here, "apps", "host.js")], bundle: true, format: "iife", write: false, logLevel: "error",
});
const hostPage = `<!doctype html><html data-theme="light"><head><meta charset="utf-8"><title>sf-mcp test host</title>
<style>
  html { background: #eceef2; } html[data-theme="dark"] { background: #0c0c10; }
  body { margin: 0; padding: 12px 0; }
  #frame iframe { display: block; width: 100%; border: 0; height: 200px; }
</style></head><body><div id="frame"></div><script>${bundled.outputFiles[0].text}</script></body></html>`;

const browser = await chromium.launch({
  executablePath: process.env.SF_TEST_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const problems = [];
const foreign = [];
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("request", (r) => {
    const url = r.url();
    if (!url.startsWith(base) && !url.startsWith("data:") && !url.startsWith("about:")) foreign.push(url);
  });
  await page.route(`${base}/__test-host/**`, (route) =>
    route.fulfill({ status: 200, contentType: "text/html", body: hostPage }));
  await page.goto(`${base}/__test-host/index.html`);
  const tools = await page.evaluate(([url, bearer]) => window.harness.connect(url, bearer), [`${base}/mcp`, token]);
  const view = () => page.frameLocator("#frame iframe");
  const find = (selector, text) => {
    const found = view().locator(selector);
    return text ? found.filter({ hasText: text }) : found;
  };

  const commands = {
    tools: async () => tools,
    open: async ({ tool, args, theme = "light", width = 1280, hold = false }) => {
      await page.setViewportSize({ width, height: 900 });
      await page.evaluate((t) => { document.documentElement.dataset.theme = t; }, theme);
      return page.evaluate((o) => window.harness.open(o), { tool, args, theme, width, hold });
    },
    release: async () => page.evaluate(() => window.harness.release()),
    theme: async ({ theme }) => {
      await page.evaluate((t) => window.harness.setTheme(t), theme);
      await view().locator(`html[data-theme="${theme}"]`).waitFor({ state: "attached" });  // the view applied it
      return true;
    },
    width: async ({ width }) => {
      await page.setViewportSize({ width, height: 900 });
      return page.evaluate((w) => window.harness.setWidth(w), width);
    },
    wait: async ({ selector, text, gone = false, timeout = 60000 }) => {
      await find(selector, text).first().waitFor({ state: gone ? "detached" : "visible", timeout });
      return true;
    },
    click: async ({ selector, text }) => { await find(selector, text).first().click(); return true; },
    fill: async ({ selector, value }) => { await find(selector).first().fill(value); return true; },
    select: async ({ selector, value }) => { await find(selector).first().selectOption(value); return true; },
    check: async ({ selector }) => { await find(selector).first().check(); return true; },
    text: async ({ selector }) => find(selector).first().innerText(),
    texts: async ({ selector }) => find(selector).allInnerTexts(),
    count: async ({ selector }) => find(selector).count(),
    attr: async ({ selector, name }) => find(selector).first().getAttribute(name),
    attrs: async ({ selector, name }) => find(selector).evaluateAll((els, n) => els.map((e) => e.getAttribute(n)), name),
    // What the view's own document looks like: its theme, width and whether anything overflows sideways.
    layout: async () => find("html").first().evaluate(() => ({
      theme: document.documentElement.dataset.theme || null,
      background: getComputedStyle(document.body).backgroundColor,
      width: window.innerWidth,
      overflows: document.documentElement.scrollWidth > window.innerWidth,
      objectText: document.body.innerText.includes("[object "),
      smallestButton: Math.min(...[...document.querySelectorAll("button")].map((b) => b.getBoundingClientRect().height)),  // an element stringified by mistake
      markup: document.querySelectorAll("main script, main img[onerror], main b.injected, main [data-injected]").length,
    })),
    shot: async ({ name }) => {
      // Let the view finish: images decoded, videos showing a frame, two frames painted; then the host's
      // frame as tall as the view asked (ui/notifications/size-changed).
      const height = await find("html").first().evaluate(async () => {
        await Promise.all([...document.images].map((img) => img.decode().catch(() => null)));
        await Promise.all([...document.querySelectorAll("video")].map((v) => (v.readyState >= 2 ? null
          : new Promise((resolve) => { v.addEventListener("loadeddata", resolve, { once: true }); v.addEventListener("error", resolve, { once: true }); }))));
        await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
        return document.documentElement.scrollHeight;
      });
      await page.waitForFunction((h) => document.querySelector("#frame iframe").clientHeight >= h - 1, height);
      // A viewport as tall as the page rather than fullPage, which resizes it while the frame paints.
      const { width } = page.viewportSize();
      const total = await page.evaluate(() => document.documentElement.scrollHeight);
      await page.setViewportSize({ width, height: total });
      await find("html").first().evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
      await page.screenshot({ path: path.join(shots, `${name}.png`) });
      await page.setViewportSize({ width, height: 900 });
      return `${name}.png`;
    },
    report: async () => ({ problems, foreign, events: await page.evaluate(() => window.harness.events) }),
  };

  for await (const line of readline.createInterface({ input: process.stdin })) {
    const { cmd, ...args } = JSON.parse(line);
    try {
      send({ ok: (await commands[cmd](args)) ?? null });
    } catch (error) {
      send({ error: `${cmd}: ${error.message}` });
    }
  }
} finally {
  await browser.close();
}
