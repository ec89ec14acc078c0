/**
 * The path as the inbound sidecar hands it to its filters: Envoy's `normalize_path` (RFC 3986
 * §6.2.2: percent-encoded unreserved characters decoded, other escapes upper-cased, `.` and `..`
 * segments removed). Without it `GET /api/../admin` would match an ALLOW on `/api/*`. The query
 * is left as it is.
 */
export function normalizePath(path: string): string {
  const q = path.search(/[?#]/);
  const [rawPath, rest] = q < 0 ? [path, ''] : [path.slice(0, q), path.slice(q)];
  const decoded = rawPath.replace(/%([0-9a-fA-F]{2})/g, (escape, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(c) ? c : escape.toUpperCase();
  });
  return removeDotSegments(decoded.startsWith('/') ? decoded : `/${decoded}`) + rest;
}

function removeDotSegments(path: string): string {
  const out: string[] = [];
  const segments = path.split('/').slice(1);
  segments.forEach((s, i) => {
    const last = i === segments.length - 1;
    if (s === '..') out.pop();
    if (s === '.' || s === '..') {
      if (last) out.push(''); // `/a/b/..` -> `/a/`
      return;
    }
    out.push(s);
  });
  return `/${out.join('/')}`;
}
