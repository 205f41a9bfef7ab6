// Reading records keyed by names the modeller chose. The message schemas
// (protocol/schema/) build such records without a prototype; records from elsewhere
// (settings, workspace state) may still have one, so they are read through `entry`.
// The webview bundle imports this file: no Node or vscode imports.

export type { Parsed } from './schema/base';

/** `r[name]` when `name` is r's own key: a record parsed elsewhere may still have a prototype. */
export function entry<T>(r: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.hasOwn(r, name) ? r[name] : undefined;
}
