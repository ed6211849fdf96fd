// Drives sf-mcp's OAuth login page in Debian's chromium (playwright-core, no downloaded browser).
//
//   node login.mjs <authorization-url> <callback-prefix> <screenshot-dir> <address> <wallet|manual> [untick,...]
//
// "wallet": a test EIP-1193 provider is injected into the page; it answers eth_requestAccounts with
// <address> and personal_sign by asking the Python test (which holds the eth-account key) to sign.
// "manual": no wallet; the test fills the address, reads the message, and pastes the signature.
// The scopes listed last are unticked on the page before signing (the user grants less).
// Talks JSON lines: writes {"sign": ...} and reads {"signature": ...}; ends with {"done": {...}}.
import { chromium } from "playwright-core";
import readline from "node:readline";

const [authorizationUrl, callbackPrefix, shots, address, mode, untick = ""] = process.argv.slice(2);
const input = readline.createInterface({ input: process.stdin });
const lines = input[Symbol.asyncIterator]();
const send = (value) => process.stdout.write(JSON.stringify(value) + "\n");
const ask = async (value) => { send(value); return JSON.parse((await lines.next()).value); };

const browser = await chromium.launch({
  executablePath: process.env.SF_TEST_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
  page.on("pageerror", (e) => problems.push(String(e)));
  // Anything not served by sf-mcp itself (a third-party script, font or image) is recorded.
  const origin = new URL(authorizationUrl).origin;
  const foreign = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(origin) && !r.url().startsWith(callbackPrefix)) foreign.push(r.url());
  });

  // The app's redirect URI: answer it in the browser, as a native app's loopback listener would.
  let callback = null;
  await page.route((url) => url.href.startsWith(callbackPrefix), (route) => {
    callback = route.request().url();
    return route.fulfill({ status: 200, contentType: "text/html", body: "<p>You can close this window.</p>" });
  });

  if (mode === "wallet") {
    await page.exposeFunction("sfTestSign", async (hex) => (await ask({ sign: hex, encoding: "hex" })).signature);
    await page.addInitScript((account) => {
      window.ethereum = {
        isSfTestWallet: true,
        async request({ method, params }) {
          if (method === "eth_requestAccounts" || method === "eth_accounts") return [account];
          if (method === "personal_sign") {
            if (params[1].toLowerCase() !== account.toLowerCase()) throw new Error("not this wallet's account");
            return window.sfTestSign(params[0]);
          }
          throw Object.assign(new Error(`unsupported method ${method}`), { code: 4200 });
        },
      };
    }, address);
  }

  const response = await page.goto(authorizationUrl);
  const headers = response.headers();
  const loginUrl = page.url();
  await page.waitForSelector("h1");
  await page.screenshot({ path: `${shots}/login-${mode}-desktop.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  const phone = await page.evaluate((selector) => ({
    overflows: document.documentElement.scrollWidth > window.innerWidth,
    buttonHeight: document.querySelector(selector).getBoundingClientRect().height,
  }), mode === "wallet" ? "#connect" : "#show-message");
  await page.screenshot({ path: `${shots}/login-${mode}-phone.png`, fullPage: true });

  // Another site framing the login page gets nothing (frame-ancestors 'none', X-Frame-Options DENY).
  const framer = await context.newPage();
  await framer.setContent(`<iframe src="${loginUrl}" width="600" height="400"></iframe>`);
  const framedText = await framer.frames()[1]
    .evaluate(() => document.body ? document.body.innerText : "").catch(() => "");
  await framer.close();

  const page_ = { title: await page.title(), text: await page.innerText("main") };
  for (const scope of untick.split(",").filter(Boolean)) await page.uncheck(`input[name="scope"][value="${scope}"]`);
  if (mode === "wallet") {
    await page.click("#connect");
  } else {
    await page.fill("#address", address);
    await page.click("#show-message");
    await page.waitForSelector("#manual-sign:not([hidden])");
    const message = await page.innerText("#message");
    await page.screenshot({ path: `${shots}/login-${mode}-phone-message.png`, fullPage: true });
    const { signature } = await ask({ sign: message, encoding: "text" });
    await page.fill("#signature", signature);
    await page.click("#submit-signature");
  }
  await page.waitForURL((url) => url.href.startsWith(callbackPrefix));
  send({ done: { callback, headers, phone, framedText, page: page_, problems, foreign } });
} finally {
  await browser.close();
  input.close();
}
