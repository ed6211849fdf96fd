// What the views use from the ext-apps package, exposed as one global (the views are inline classic scripts).
import { App, applyDocumentTheme, applyHostFonts, applyHostStyleVariables } from "@modelcontextprotocol/ext-apps/app-with-deps";

globalThis.McpApps = { App, applyDocumentTheme, applyHostFonts, applyHostStyleVariables };
