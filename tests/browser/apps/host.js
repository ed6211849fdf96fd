// A minimal MCP Apps host for the tests: connects to sf-mcp with the MCP TypeScript client (bearer token),
// finds a tool's view through its _meta.ui.resourceUri, renders the ui:// page in a sandboxed iframe with the
// CSP a host builds from the resource's _meta.ui.csp, and joins them with the ext-apps AppBridge. Like a chat
// host, it sends the tool's arguments to the view, calls the tool, then sends the result.
import { AppBridge, PostMessageTransport } from "@modelcontextprotocol/ext-apps/app-bridge";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

const UI = "io.modelcontextprotocol/ui";
const MIME = "text/html;profile=mcp-app";
const HOST = { name: "sf-mcp test host", version: "1.0.0" };
let client = null;
let tools = [];
let current = null; // { bridge, iframe, pending, context }
const events = [];

async function connect(url, token) {
  client = new Client(HOST, { capabilities: { extensions: { [UI]: { mimeTypes: [MIME] } } } });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  }));
  tools = (await client.listTools()).tools;
  return tools.map((t) => ({ name: t.name, ui: (t._meta && t._meta.ui) || null }));
}

/** The CSP a host puts on the view's frame for the resource's declared domains. */
function cspFor(meta) {
  const csp = (meta && meta.ui && meta.ui.csp) || {};
  const list = (domains, none = "") => (domains && domains.length ? domains.join(" ") : none);
  const resources = list(csp.resourceDomains);
  return [
    "default-src 'none'",
    `script-src 'unsafe-inline' ${resources}`.trim(),
    `style-src 'unsafe-inline' ${resources}`.trim(),
    `img-src data: blob: ${resources}`.trim(),
    `media-src data: blob: ${resources}`.trim(),
    `font-src ${list(csp.resourceDomains, "'none'")}`,
    `connect-src ${list(csp.connectDomains, "'none'")}`,
    `frame-src ${list(csp.frameDomains, "'none'")}`,
    `base-uri ${list(csp.baseUriDomains, "'none'")}`,
  ].join("; ");
}

function context(theme, width) {
  return { theme, displayMode: "inline", availableDisplayModes: ["inline"], platform: "web", locale: "en-US",
    containerDimensions: { width, maxHeight: 6000 } };
}

async function close() {
  if (!current) return;
  await current.bridge.teardownResource({}).catch(() => null);
  current.iframe.remove();
  current = null;
}

/** Show `tool`'s view for a call with `args`; with hold, the result waits for release() (a call in flight). */
async function open({ tool, args, theme, width, hold }) {
  await close();
  const info = tools.find((t) => t.name === tool);
  if (!info) throw new Error(`no tool ${tool}`);
  const uri = info._meta.ui.resourceUri;
  const read = await client.readResource({ uri });
  const page = read.contents[0];
  if (page.mimeType !== MIME) throw new Error(`${uri} is served as ${page.mimeType}`);
  const policy = cspFor(page._meta);
  const iframe = document.createElement("iframe");
  iframe.setAttribute("sandbox", "allow-scripts");
  iframe.setAttribute("title", uri);
  iframe.srcdoc = page.text.replace("<head>", `<head><meta http-equiv="Content-Security-Policy" content="${policy}">`);
  document.getElementById("frame").replaceChildren(iframe);
  const bridge = new AppBridge(client, HOST, { openLinks: {}, serverTools: {}, serverResources: {}, logging: {} },
    { hostContext: context(theme, width) });
  bridge.onsizechange = ({ height }) => { if (height) iframe.style.height = `${Math.ceil(height)}px`; };
  bridge.onopenlink = async ({ url }) => { events.push({ openLink: url }); return {}; };
  bridge.onmessage = async (params) => { events.push({ message: params }); return {}; };
  bridge.onloggingmessage = (params) => events.push({ log: params });
  const initialized = new Promise((resolve) => { bridge.oninitialized = resolve; });
  await bridge.connect(new PostMessageTransport(iframe.contentWindow, iframe.contentWindow));
  await initialized;
  await bridge.sendToolInput({ arguments: args });
  const call = client.callTool({ name: tool, arguments: args });
  current = { bridge, iframe, theme, width, call, csp: policy, meta: page._meta };
  if (!hold) return release();
  return { held: true };
}

async function release() {
  const result = await current.call;
  await current.bridge.sendToolResult(result);
  return { isError: !!result.isError, structuredContent: result.structuredContent || null,
    content: (result.content || []).map((c) => c.type), csp: current.csp, meta: current.meta };
}

function setTheme(theme) {
  document.documentElement.dataset.theme = theme;
  current.theme = theme;
  current.bridge.setHostContext(context(theme, current.width));
}

function setWidth(width) {
  current.width = width;
  current.bridge.setHostContext(context(current.theme, width));
}

async function callTool(name, args) {
  return client.callTool({ name, arguments: args });
}

window.harness = { connect, open, release, setTheme, setWidth, callTool, events };
