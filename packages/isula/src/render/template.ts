/**
 * The Go-template subset `isula inspect -f` understands: `{{.A.B}}`, `{{json .A}}`, `{{.}}`, with
 * literal text around. Values print as Go prints them for the common cases: strings raw, numbers and
 * booleans as text, objects and arrays as JSON, missing fields as `<no value>`.
 */
export class TemplateError extends Error {}

function lookup(root: unknown, path: string): unknown {
  if (path === '.') return root;
  if (!path.startsWith('.')) throw new TemplateError(`Template parsing error: unexpected "${path}"`);
  let cur: unknown = root;
  for (const key of path.slice(1).split('.')) {
    if (key === '') continue;
    if (cur === null || typeof cur !== 'object' || !(key in (cur as Record<string, unknown>))) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function show(v: unknown): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

export function renderTemplate(template: string, data: unknown): string {
  return template.replace(/\{\{\s*(.*?)\s*\}\}/g, (_m, expr: string) => {
    const parts = expr.split(/\s+/);
    if (parts[0] === 'json' && parts.length === 2) return JSON.stringify(lookup(data, parts[1]!) ?? null);
    if (parts.length === 1) return show(lookup(data, parts[0]!));
    throw new TemplateError(`Template parsing error: unsupported expression "{{${expr}}}"`);
  });
}
