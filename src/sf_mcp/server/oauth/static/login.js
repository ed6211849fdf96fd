// The sf-mcp login page: sign the EIP-4361 message with a browser wallet (EIP-1193),
// or paste a signature made elsewhere, then return to the app. No third-party code.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const request = $("login").dataset.request;
  const buttons = ["connect", "show-message", "submit-signature", "deny"].map($);

  const status = (text, kind) => { const el = $("status"); el.textContent = text; el.className = kind || ""; };
  const busy = (on) => { for (const b of buttons) b.disabled = on; };
  const hex = (text) => "0x" + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");

  async function call(method, path, body) {
    const response = await fetch(path, {
      method, credentials: "same-origin",
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error_description || `the server answered ${response.status}`);
    return data;
  }
  // The scopes the user leaves ticked; the signed message names exactly these.
  const chosen = () => {
    const scope = Array.from(document.querySelectorAll('input[name="scope"]:checked'), (i) => i.value).join(" ");
    if (!scope) throw new Error("choose at least one thing to allow");
    return scope;
  };
  const messageFor = async (address, scope) => (await call("GET",
    `/oauth/login/message?request=${encodeURIComponent(request)}&address=${encodeURIComponent(address)}` +
    `&scope=${encodeURIComponent(scope)}`)).message;

  async function finish(message, signature, scope) {
    status("Checking the signature…");
    const { redirect } = await call("POST", "/oauth/login/approve", { request, message, signature, scope });
    status("Signed in. Returning to the app…", "ok");
    window.location.assign(redirect);
  }

  async function guarded(work) {
    busy(true);
    try { await work(); } catch (error) { status((error && error.message) || String(error), "error"); busy(false); }
  }

  const wallet = window.ethereum;
  if (!wallet || typeof wallet.request !== "function") {
    $("connect").hidden = true;
    $("no-wallet").hidden = false;
    $("manual").open = true;
  }

  $("connect").addEventListener("click", () => guarded(async () => {
    status("Choose an account in your wallet…");
    const scope = chosen();
    const [address] = await wallet.request({ method: "eth_requestAccounts" });
    if (!address) throw new Error("the wallet shared no account");
    const message = await messageFor(address, scope);
    status("Sign the message in your wallet…");
    const signature = await wallet.request({ method: "personal_sign", params: [hex(message), address] });
    await finish(message, signature, scope);
  }));

  let manualMessage = null;
  let manualScope = null;
  // A message names the scopes ticked when it was made: changing them needs a new message.
  for (const box of document.querySelectorAll('input[name="scope"]')) {
    box.addEventListener("change", () => {
      if (manualMessage === null) return;
      manualMessage = manualScope = null;
      $("manual-sign").hidden = true;
      status("The choice changed: show the message again to sign it.");
    });
  }
  $("show-message").addEventListener("click", () => guarded(async () => {
    const address = $("address").value.trim();
    if (!/^0x[0-9a-fA-F]{40}$/.test(address)) throw new Error("address: enter a 0x address of 40 hex digits");
    manualScope = chosen();
    manualMessage = await messageFor(address, manualScope);
    $("message").textContent = manualMessage;
    $("manual-sign").hidden = false;
    status("Sign this message with your wallet and paste the signature below.");
    busy(false);
  }));

  $("copy").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(manualMessage || ""); status("Message copied.", "ok"); }
    catch { status("Copying is blocked here; select the message and copy it.", "error"); }
  });

  $("submit-signature").addEventListener("click", () => guarded(async () => {
    const signature = $("signature").value.trim();
    if (!manualMessage) throw new Error("show the message first");
    if (!/^0x[0-9a-fA-F]+$/.test(signature)) throw new Error("signature: paste the 0x… hex signature");
    await finish(manualMessage, signature, manualScope);
  }));

  $("deny").addEventListener("click", () => guarded(async () => {
    const { redirect } = await call("POST", "/oauth/login/deny", { request });
    status("Cancelled. Returning to the app…");
    window.location.assign(redirect);
  }));
})();
